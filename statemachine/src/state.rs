//! The serializable execution state: a tree of frames. The root frame runs the top-level state
//! machine; Map iterations and Parallel branches are child frames of the frame whose current
//! state is the Map/Parallel state.

use crate::errors::StateError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The whole persisted state of a running execution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecState {
    /// Root frame.
    pub root: Frame,
    /// State transitions so far (runaway guard).
    pub transitions: u64,
    /// How often the execution was redriven (`$$.Execution.RedriveCount`).
    #[serde(default)]
    pub redrive_count: u32,
    /// When it was last redriven: the definition's `TimeoutSeconds` counts from here.
    #[serde(default)]
    pub redriven_at: Option<DateTime<Utc>>,
}

/// One state machine scope in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Frame {
    /// Current state name.
    pub state: String,
    /// Raw input of the current state, shared with the history events that show it (the
    /// previous state's `…Exited` output and this state's `…Entered` input), so recording
    /// history copies no JSON.
    pub input: Arc<Value>,
    /// When the current state was entered.
    pub entered: DateTime<Utc>,
    /// Attempts charged to each retrier of the current state.
    #[serde(default)]
    pub retries: Vec<u32>,
    /// Total retries of the current state (`$$.State.RetryCount`).
    #[serde(default)]
    pub retry_count: u32,
    /// What the frame is doing.
    pub phase: Phase,
    /// Workflow variables visible in this scope (`Assign`): a Map iteration or Parallel branch
    /// starts with a copy of its parent's, and its own assignments stay inside it.
    #[serde(default)]
    pub vars: Arc<serde_json::Map<String, Value>>,
    /// The children of a Map or Parallel state that failed this frame, kept so that a redrive
    /// re-runs only the iterations/branches that failed or were aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfinished: Option<Box<Fanout>>,
}

/// The phase of a frame's current state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Phase {
    /// About to enter the state (emit `…StateEntered`).
    Enter,
    /// Entered; run the state's work.
    Run,
    /// A Wait state sleeping until `until`.
    Wait {
        /// Wake-up time.
        until: DateTime<Utc>,
    },
    /// Waiting to retry the state.
    RetryDelay {
        /// Retry time.
        until: DateTime<Utc>,
    },
    /// A `.waitForTaskToken` task waiting for its callback.
    Callback(Box<CallbackWait>),
    /// A Map or Parallel state running child frames.
    Fanout(Box<Fanout>),
    /// The scope finished successfully.
    Succeeded {
        /// Output.
        output: Value,
    },
    /// The scope failed.
    Failed {
        /// Error.
        error: StateError,
    },
}

/// A pending callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallbackWait {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// Task resource.
    pub resource: String,
    /// When the token was issued.
    pub created_at: DateTime<Utc>,
    /// `TimeoutSeconds` deadline.
    pub timeout_at: Option<DateTime<Utc>>,
    /// Heartbeat deadline.
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// `HeartbeatSeconds`.
    pub heartbeat_seconds: Option<u64>,
    /// Whether the handler was invoked successfully (`TaskSubmitted`).
    pub submitted: bool,
}

impl CallbackWait {
    /// The earliest deadline.
    pub fn deadline(&self) -> Option<DateTime<Utc>> {
        match (self.timeout_at, self.heartbeat_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Children of a Map or Parallel state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fanout {
    /// Map (true) or Parallel (false).
    pub is_map: bool,
    /// Inputs of not-yet-started children.
    pub inputs: Vec<Value>,
    /// Child slots.
    pub children: Vec<Child>,
    /// Maximum running children (0 = unlimited).
    pub max_concurrency: usize,
    /// Children currently running.
    pub running: usize,
    /// Index of the next child to start.
    pub next_start: usize,
    /// Failed children so far.
    pub failures: usize,
    /// `ToleratedFailureCount`.
    pub tolerated_count: Option<u64>,
    /// `ToleratedFailurePercentage`.
    pub tolerated_percentage: Option<f64>,
    /// Every child below this index has finished: stepping starts the search for a running
    /// child here instead of at 0 (a 1,000-item Map otherwise rescans its finished prefix on
    /// every transition).
    #[serde(default)]
    pub first_unfinished: usize,
    /// The frames of failed children, by index, at the state where each failed: a redrive
    /// continues them from there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_frames: BTreeMap<usize, Frame>,
}

/// One Map iteration or Parallel branch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Child {
    /// Not started.
    Pending,
    /// Running.
    Running(Box<Frame>),
    /// Finished with output.
    Succeeded(Value),
    /// Failed.
    Failed(StateError),
}

/// Earliest times at which something becomes runnable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wake {
    /// Wait-state and retry timers (may be auto-advanced).
    pub timer: Option<DateTime<Utc>>,
    /// Callback timeout/heartbeat deadlines (never auto-advanced).
    pub deadline: Option<DateTime<Utc>>,
}

fn min_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

impl Wake {
    /// Combines two wakes, keeping the earliest of each kind.
    pub fn merge(self, other: Wake) -> Wake {
        Wake {
            timer: min_opt(self.timer, other.timer),
            deadline: min_opt(self.deadline, other.deadline),
        }
    }

    /// The earliest of both.
    pub fn earliest(&self) -> Option<DateTime<Utc>> {
        min_opt(self.timer, self.deadline)
    }
}

impl Frame {
    /// Readies a stopped frame for `RedriveExecution`: a Map or Parallel state that failed (or
    /// was running when the execution stopped) resumes its fan-out, keeping the children that
    /// succeeded and redriving, each from where it stopped, those that failed or were aborted;
    /// any other state is entered again with the input it had.
    pub fn prepare_redrive(&mut self, now: DateTime<Utc>) {
        self.retries.clear();
        self.retry_count = 0;
        if let Some(fanout) = self.unfinished.take() {
            self.phase = Phase::Fanout(fanout);
        }
        let Phase::Fanout(fo) = &mut self.phase else {
            self.phase = Phase::Enter;
            self.entered = now;
            return;
        };
        let mut running = 0;
        for (i, child) in fo.children.iter_mut().enumerate() {
            match child {
                // A child that failed before the engine kept failed children has nothing to
                // resume from and stays failed.
                Child::Failed(_) => {
                    if let Some(mut frame) = fo.failed_frames.remove(&i) {
                        frame.prepare_redrive(now);
                        *child = Child::Running(Box::new(frame));
                        running += 1;
                    }
                }
                Child::Running(frame) => {
                    frame.prepare_redrive(now);
                    running += 1;
                }
                Child::Pending | Child::Succeeded(_) => {}
            }
        }
        fo.failures = fo
            .children
            .iter()
            .filter(|c| matches!(c, Child::Failed(_)))
            .count();
        fo.running = running;
        fo.first_unfinished = 0;
        fo.failed_frames.clear();
    }

    /// A fresh frame about to enter `state`.
    pub fn new(state: &str, input: Value, now: DateTime<Utc>) -> Self {
        Frame {
            state: state.to_string(),
            input: Arc::new(input),
            entered: now,
            retries: Vec::new(),
            retry_count: 0,
            phase: Phase::Enter,
            vars: Arc::default(),
            unfinished: None,
        }
    }

    /// Timers and deadlines anywhere in this frame's subtree.
    pub fn wake(&self) -> Wake {
        match &self.phase {
            Phase::Wait { until } | Phase::RetryDelay { until } => Wake {
                timer: Some(*until),
                deadline: None,
            },
            Phase::Callback(cb) => Wake {
                timer: None,
                deadline: cb.deadline(),
            },
            Phase::Fanout(f) => f
                .children
                .iter()
                .filter_map(|c| match c {
                    Child::Running(fr) => Some(fr.wake()),
                    _ => None,
                })
                .fold(Wake::default(), Wake::merge),
            _ => Wake::default(),
        }
    }

    /// Visits every pending callback in the subtree with the owning frame's state name.
    pub fn for_each_callback(&self, f: &mut dyn FnMut(&str, &CallbackWait)) {
        match &self.phase {
            Phase::Callback(cb) => f(&self.state, cb),
            Phase::Fanout(fo) => {
                for c in &fo.children {
                    if let Child::Running(fr) = c {
                        fr.for_each_callback(f);
                    }
                }
            }
            _ => {}
        }
    }

    /// Path (child indices) to the frame waiting on `token_hash`.
    pub fn find_callback(&self, token_hash: &str) -> Option<Vec<usize>> {
        match &self.phase {
            Phase::Callback(cb) if cb.token_hash == token_hash => Some(Vec::new()),
            Phase::Fanout(fo) => {
                for (i, c) in fo.children.iter().enumerate() {
                    if let Child::Running(fr) = c {
                        if let Some(mut p) = fr.find_callback(token_hash) {
                            p.insert(0, i);
                            return Some(p);
                        }
                    }
                }
                None
            }
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frames_saved_before_first_unfinished_existed_still_load() {
        let now = Utc::now();
        let mut frame = Frame::new("Fan", json!({"a": 1}), now);
        frame.phase = Phase::Fanout(Box::new(Fanout {
            is_map: true,
            inputs: vec![],
            children: vec![Child::Succeeded(json!(1)), Child::Pending],
            max_concurrency: 0,
            running: 0,
            next_start: 1,
            failures: 0,
            tolerated_count: None,
            tolerated_percentage: None,
            first_unfinished: 1,
            failed_frames: BTreeMap::new(),
        }));
        let mut saved = serde_json::to_value(&frame).unwrap();
        let fanout = &mut saved["phase"]["Fanout"];
        assert_eq!(fanout["first_unfinished"], json!(1));
        fanout.as_object_mut().unwrap().remove("first_unfinished");
        let loaded: Frame = serde_json::from_value(saved).unwrap();
        let Phase::Fanout(fo) = loaded.phase else {
            panic!("not a fanout")
        };
        assert_eq!(
            fo.first_unfinished, 0,
            "an older frame rescans from the start"
        );
        assert_eq!(
            *loaded.input,
            json!({"a": 1}),
            "the shared input round-trips"
        );
    }

    #[test]
    fn a_failed_fanout_kept_for_redrive_round_trips_and_resumes_only_unfinished_children() {
        let now = Utc::now();
        let mut failed_child = Frame::new("Call", json!({"item": "b"}), now);
        failed_child.phase = Phase::Failed {
            error: StateError::new("Boom", "b failed"),
        };
        let mut aborted_child = Frame::new("Wait", json!({"item": "c"}), now);
        aborted_child.phase = Phase::Wait { until: now };
        let mut frame = Frame::new("Fan", json!({}), now);
        frame.phase = Phase::Failed {
            error: StateError::new("Boom", "b failed"),
        };
        frame.unfinished = Some(Box::new(Fanout {
            is_map: true,
            inputs: vec![Value::Null, Value::Null, Value::Null, json!({"item": "d"})],
            children: vec![
                Child::Succeeded(json!("a")),
                Child::Failed(StateError::new("Boom", "b failed")),
                Child::Running(Box::new(aborted_child)),
                Child::Pending,
            ],
            max_concurrency: 0,
            running: 1,
            next_start: 3,
            failures: 1,
            tolerated_count: None,
            tolerated_percentage: None,
            first_unfinished: 1,
            failed_frames: BTreeMap::from([(1, failed_child)]),
        }));
        let mut loaded: Frame =
            serde_json::from_value(serde_json::to_value(&frame).unwrap()).unwrap();
        loaded.prepare_redrive(now);
        assert!(loaded.unfinished.is_none());
        let Phase::Fanout(fo) = &loaded.phase else {
            panic!("the fan-out resumes, got {:?}", loaded.phase)
        };
        assert_eq!((fo.running, fo.failures, fo.next_start), (2, 0, 3));
        assert!(matches!(&fo.children[0], Child::Succeeded(v) if v == "a"));
        let entered = |c: &Child| match c {
            Child::Running(f) => Some((f.state.clone(), matches!(f.phase, Phase::Enter))),
            _ => None,
        };
        assert_eq!(entered(&fo.children[1]), Some(("Call".into(), true)));
        assert_eq!(entered(&fo.children[2]), Some(("Wait".into(), true)));
        assert!(matches!(fo.children[3], Child::Pending));
        assert!(fo.failed_frames.is_empty());
    }
}
