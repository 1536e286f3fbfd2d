//! Step Functions-style execution history events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// Event types, named as in `GetExecutionHistory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum HistoryEventType {
    ExecutionStarted,
    ExecutionSucceeded,
    ExecutionFailed,
    ExecutionTimedOut,
    ExecutionRedriven,
    ExecutionAborted,
    TaskStateEntered,
    TaskStateExited,
    TaskScheduled,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
    ChoiceStateEntered,
    ChoiceStateExited,
    PassStateEntered,
    PassStateExited,
    WaitStateEntered,
    WaitStateExited,
    SucceedStateEntered,
    SucceedStateExited,
    FailStateEntered,
    ParallelStateEntered,
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    ParallelStateAborted,
    ParallelStateExited,
    MapStateEntered,
    MapStateStarted,
    MapStateSucceeded,
    MapStateFailed,
    MapStateAborted,
    MapStateExited,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
    MapIterationAborted,
}

impl HistoryEventType {
    /// The event type name.
    pub fn as_str(&self) -> String {
        format!("{self:?}")
    }

    /// Parses a name produced by [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_string())).ok()
    }

    /// `{Type}StateEntered` for a state type name.
    pub fn entered(state_type: &str) -> Self {
        match state_type {
            "Task" => Self::TaskStateEntered,
            "Choice" => Self::ChoiceStateEntered,
            "Pass" => Self::PassStateEntered,
            "Wait" => Self::WaitStateEntered,
            "Succeed" => Self::SucceedStateEntered,
            "Fail" => Self::FailStateEntered,
            "Parallel" => Self::ParallelStateEntered,
            _ => Self::MapStateEntered,
        }
    }

    /// `{Type}StateExited` for a state type name (Fail states have none; Task is used).
    pub fn exited(state_type: &str) -> Self {
        match state_type {
            "Choice" => Self::ChoiceStateExited,
            "Pass" => Self::PassStateExited,
            "Wait" => Self::WaitStateExited,
            "Succeed" => Self::SucceedStateExited,
            "Parallel" => Self::ParallelStateExited,
            "Map" => Self::MapStateExited,
            _ => Self::TaskStateExited,
        }
    }
}

/// Event details; only the fields relevant to the event type are set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventDetails {
    /// State name (state events) or execution name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Input (shared with the frame that ran the state; see [`crate::state::Frame::input`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Arc<Value>>,
    /// Output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Arc<Value>>,
    /// Error name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Error cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Task resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Task resource type (e.g. `lambda`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Map iteration index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Map length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<usize>,
    /// Task timeout in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_in_seconds: Option<u64>,
    /// Heartbeat timeout in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_in_seconds: Option<u64>,
}

/// One history event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// 1-based id.
    pub id: u64,
    /// The previous event's id (0 for the first).
    pub previous_event_id: u64,
    /// When it happened (virtual clock).
    pub timestamp: DateTime<Utc>,
    /// Type.
    #[serde(rename = "type")]
    pub event_type: HistoryEventType,
    /// Details.
    pub details: EventDetails,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let t = HistoryEventType::MapIterationStarted;
        assert_eq!(t.as_str(), "MapIterationStarted");
        assert_eq!(HistoryEventType::parse("MapIterationStarted"), Some(t));
        assert_eq!(HistoryEventType::parse("Nope"), None);
        assert_eq!(
            HistoryEventType::entered("Wait"),
            HistoryEventType::WaitStateEntered
        );
        assert_eq!(
            HistoryEventType::exited("Map"),
            HistoryEventType::MapStateExited
        );
    }
}
