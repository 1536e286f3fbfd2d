//! The interpreter's context for one execution ([`Runner`]), what a step returns ([`Step`],
//! [`TaskCall`]) and the bookkeeping every state type shares: history events, task-token rows
//! and finding a frame in the tree.

use crate::definition::{Definition, State};
use crate::errors::StateError;
use crate::history::{EventDetails, HistoryEvent, HistoryEventType as T};
use crate::io::ExecutionInfo;
use crate::state::{CallbackWait, Child, Frame, Phase, Wake};
use crate::store::{TokenRecord, TokenStatus};
use crate::task::{self, Resource, TaskContext};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::Digest;
use std::sync::Arc;

/// A task invocation the driver must perform.
#[derive(Debug, Clone)]
pub struct TaskCall {
    /// Path of the frame (child indices from the root).
    pub path: Vec<usize>,
    /// Resource ARN.
    pub resource: String,
    /// Classified resource.
    pub kind: Resource,
    /// Effective parameters (after InputPath and Parameters).
    pub input: Value,
    /// Invocation context (carries the raw token for callbacks).
    pub ctx: TaskContext,
    /// `TimeoutSeconds` for synchronous handlers.
    pub timeout_seconds: Option<u64>,
    /// Whether this is a `.waitForTaskToken` callback task.
    pub callback: bool,
}

/// The result of one step.
#[derive(Debug)]
pub enum Step {
    /// Something changed; step again.
    Progress,
    /// A task must be invoked.
    Effect(Box<TaskCall>),
    /// Nothing runnable until the given times.
    Idle(Wake),
    /// The frame finished (its phase is `Succeeded` or `Failed`).
    Done,
}

/// Hashes a task token for storage and lookup.
pub fn token_hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// Mutable interpreter context for one execution.
pub struct Runner {
    /// Execution facts for `$$`.
    pub exec: Arc<ExecutionInfo>,
    /// Current time.
    pub now: DateTime<Utc>,
    /// Events produced since the last commit.
    pub events: Vec<HistoryEvent>,
    /// Id the next event gets.
    pub next_event_id: u64,
    /// Token rows to upsert.
    pub tokens: Vec<TokenRecord>,
    /// State transitions so far.
    pub transitions: u64,
}

/// The error and cause of `e` as history event details.
pub(super) fn err_details(e: &StateError) -> EventDetails {
    EventDetails {
        error: Some(e.error.clone()),
        cause: Some(e.cause.clone()),
        ..Default::default()
    }
}

/// The service a resource ARN names (`lambda`, `states`, …), for history events.
pub(super) fn resource_type(resource: &str) -> Option<String> {
    task::integration_parts(resource)
        .and_then(|(base, _)| base.split(':').next())
        .map(str::to_string)
        .or_else(|| resource.split(':').nth(2).map(str::to_string))
}

impl Runner {
    /// A runner for `exec`, continuing event numbering after `event_count` events.
    pub fn new(
        exec: Arc<ExecutionInfo>,
        now: DateTime<Utc>,
        event_count: u64,
        transitions: u64,
    ) -> Self {
        Runner {
            exec,
            now,
            events: Vec::new(),
            next_event_id: event_count + 1,
            tokens: Vec::new(),
            transitions,
        }
    }

    /// Appends a history event.
    pub fn emit(&mut self, event_type: T, details: EventDetails) {
        let id = self.next_event_id;
        self.next_event_id += 1;
        self.events.push(HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp: self.now,
            event_type,
            details,
        });
    }

    /// The token row of the callback `cb` of state `state_name`, with `status`.
    pub(super) fn token_record(
        &self,
        state_name: &str,
        cb: &CallbackWait,
        status: TokenStatus,
    ) -> TokenRecord {
        TokenRecord {
            token_hash: cb.token_hash.clone(),
            execution_arn: self.exec.id.clone(),
            state_name: state_name.to_string(),
            resource: cb.resource.clone(),
            status,
            created_at: cb.created_at,
            timeout_at: cb.timeout_at,
            heartbeat_at: cb.heartbeat_at,
        }
    }

    /// Marks every pending callback in `frame`'s subtree as closed.
    pub fn close_callbacks(&mut self, frame: &Frame) {
        let mut recs = Vec::new();
        frame.for_each_callback(&mut |name, cb| {
            recs.push(self.token_record(name, cb, TokenStatus::Closed));
        });
        self.tokens.extend(recs);
    }
}

/// The state machine a child of the Map or Parallel state `st` runs: the Map's processor, or
/// the Parallel's branch `i`.
pub(super) fn child_scope(st: &State, i: usize) -> Option<&Definition> {
    match st {
        State::Map(m) => m.item_processor.as_deref(),
        State::Parallel(p) => p.branches.as_ref()?.get(i),
        _ => None,
    }
}

/// Finds the frame at `path` and the state machine scope it runs in.
pub fn locate<'d, 'f>(
    def: &'d Definition,
    root: &'f mut Frame,
    path: &[usize],
) -> Option<(&'d Definition, &'f mut Frame)> {
    let mut scope = def;
    let mut frame = root;
    for &i in path {
        let st = scope.states.get(&frame.state)?;
        scope = child_scope(st, i)?;
        let Phase::Fanout(fo) = &mut frame.phase else {
            return None;
        };
        let Child::Running(child) = fo.children.get_mut(i)? else {
            return None;
        };
        frame = child;
    }
    Some((scope, frame))
}
