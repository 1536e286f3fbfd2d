//! The `Task` state: schedules the invocation the driver performs ([`TaskCall`]), waits for
//! a callback's token when the resource asks for one, and turns the task's result (or error)
//! into the state's output.

use super::runner::{err_details, locate, resource_type, token_hash, Runner, Step, TaskCall};
use crate::definition::{
    Definition, FieldValue, Filters, QueryLanguage, State, StateType, TaskState,
};
use crate::errors::{self, StateError};
use crate::history::{EventDetails, HistoryEventType as T};
use crate::io;
use crate::jsonata::JsonataValue;
use crate::path;
use crate::state::{CallbackWait, Frame, Phase, Wake};
use crate::store::TokenStatus;
use crate::task::{self, Resource, TaskContext};
use chrono::Duration;
use serde_json::Value;
use std::sync::Arc;

/// `value` with every string equal to `token` replaced by a short hash of it: the history
/// (persisted, printed by `hitl history`) never holds a usable task token, while the hash
/// still correlates the events of one wait.
fn redact_token(value: &Value, token: &str) -> Value {
    match value {
        Value::String(s) if s == token => {
            Value::String(format!("<task token sha256:{}>", &token_hash(token)[..12]))
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| redact_token(v, token)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact_token(v, token)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn new_token() -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut bytes = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn secs(s: u64) -> Duration {
    Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1_000_000))
}

/// The resource of the Task state `st` (empty for any other state, which runs no task).
fn resource_of(st: Option<&State>) -> String {
    match st {
        Some(State::Task(t)) => t.resource.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

impl Runner {
    pub(super) fn run_task(
        &mut self,
        st: &TaskState,
        whole: &State,
        frame: &mut Frame,
        path: &[usize],
    ) -> Step {
        match self.schedule_task(st, frame, path) {
            Ok(call) => Step::Effect(Box::new(call)),
            Err(e) => {
                self.fail_state(whole, frame, e);
                Step::Progress
            }
        }
    }

    /// A JSONPath `TimeoutSeconds`/`HeartbeatSeconds`: the literal, or the positive integer
    /// its `…Path` selects from the effective input.
    fn seconds_field(
        &self,
        filters: &Filters,
        frame: &Frame,
        field: &FieldValue<u64>,
        path_field: &str,
    ) -> Result<Option<u64>, StateError> {
        if field.literal.is_some() {
            return Ok(field.literal);
        }
        let Some(p) = &field.path else {
            return Ok(None);
        };
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        let eff = io::apply_filter_path(&frame.input, &filters.input_path, "InputPath", &ctx)?;
        let v = path::select(&eff, p, &ctx)
            .map_err(|e| StateError::runtime(format!("{path_field}: {e}")))?;
        v.as_u64().filter(|n| *n > 0).map(Some).ok_or_else(|| {
            StateError::runtime(format!(
                "{path_field} '{p}' must select a positive integer, got {v}"
            ))
        })
    }

    /// A JSONata `TimeoutSeconds`/`HeartbeatSeconds`: a positive integer.
    fn positive_seconds(
        &self,
        st: &TaskState,
        expr: &JsonataValue,
        frame: &Frame,
        field: &str,
    ) -> Result<u64, StateError> {
        let v = expr.eval(field, &self.env(&st.acting.common, frame, None, None))?;
        v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
            StateError::new(
                errors::QUERY_EVALUATION_ERROR,
                format!("{field} must evaluate to a positive integer, got {v}"),
            )
        })
    }

    /// `TimeoutSeconds` or `HeartbeatSeconds` in whichever form the state gives it.
    fn task_seconds(
        &self,
        st: &TaskState,
        frame: &Frame,
        field: &FieldValue<u64>,
        name: &str,
        path_field: &str,
    ) -> Result<Option<u64>, StateError> {
        match &field.expr {
            Some(e) => Ok(Some(self.positive_seconds(st, e, frame, name)?)),
            None => self.seconds_field(&st.acting.filters, frame, field, path_field),
        }
    }

    fn schedule_task(
        &mut self,
        st: &TaskState,
        frame: &mut Frame,
        path: &[usize],
    ) -> Result<TaskCall, StateError> {
        let resource = st.resource.clone().unwrap_or_default();
        let kind = task::classify(&resource);
        let callback = matches!(
            kind,
            Resource::LambdaInvoke {
                wait_for_token: true
            } | Resource::StartExecution {
                wait_for_token: true,
                ..
            } | Resource::Service {
                wait_for_token: true,
                ..
            }
        );
        let timeout = self.task_seconds(
            st,
            frame,
            &st.timeout_seconds,
            "TimeoutSeconds",
            "TimeoutSecondsPath",
        )?;
        let heartbeat = self.task_seconds(
            st,
            frame,
            &st.heartbeat_seconds,
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
        )?;
        let token = callback.then(new_token);
        let input = if st.acting.common.query_language == QueryLanguage::Jsonata {
            match &st.acting.arguments {
                Some(arguments) => arguments.eval(
                    "Arguments",
                    &self.env(&st.acting.common, frame, token.as_deref(), None),
                )?,
                None => Value::clone(&frame.input),
            }
        } else {
            self.effective_input(
                &st.acting.filters,
                st.parameters.as_ref(),
                frame,
                token.as_deref(),
            )?
        };
        let recorded = match &token {
            Some(tok) => redact_token(&input, tok),
            None => input.clone(),
        };
        self.emit(
            T::TaskScheduled,
            EventDetails {
                name: Some(frame.state.clone()),
                input: Some(Arc::new(recorded)),
                resource: Some(resource.clone()),
                resource_type: resource_type(&resource),
                timeout_in_seconds: timeout,
                heartbeat_in_seconds: heartbeat,
                ..Default::default()
            },
        );
        self.emit(
            T::TaskStarted,
            EventDetails {
                resource: Some(resource.clone()),
                resource_type: resource_type(&resource),
                ..Default::default()
            },
        );
        if let Some(tok) = &token {
            let cb = CallbackWait {
                token_hash: token_hash(tok),
                resource: resource.clone(),
                created_at: self.now,
                timeout_at: timeout.map(|s| self.now + secs(s)),
                heartbeat_at: heartbeat.map(|s| self.now + secs(s)),
                heartbeat_seconds: heartbeat,
                submitted: false,
            };
            let rec = self.token_record(&frame.state, &cb, TokenStatus::Pending);
            self.tokens.push(rec);
            frame.phase = Phase::Callback(Box::new(cb));
        }
        Ok(TaskCall {
            path: path.to_vec(),
            resource,
            kind,
            input,
            ctx: TaskContext {
                execution_arn: self.exec.id.clone(),
                state_name: frame.state.clone(),
                task_token: token,
                attempt: frame.retry_count,
            },
            timeout_seconds: timeout,
            callback,
        })
    }

    /// A task waiting for its callback: scheduled again when its handler never ran, failed
    /// with `States.Timeout` / `States.HeartbeatTimeout` when a deadline passed, else idle.
    pub(super) fn step_callback(&mut self, st: &State, frame: &mut Frame) -> Step {
        let Phase::Callback(cb) = &frame.phase else {
            return Step::Progress;
        };
        if !cb.submitted {
            // Interrupted before the handler ran: the raw token is gone, so close it
            // and schedule the task again with a fresh one.
            let rec = self.token_record(&frame.state, cb, TokenStatus::Closed);
            self.tokens.push(rec);
            frame.phase = Phase::Run;
            return Step::Progress;
        }
        let timed_out = cb.timeout_at.is_some_and(|t| t <= self.now);
        let hb_out = cb.heartbeat_at.is_some_and(|t| t <= self.now);
        if !(timed_out || hb_out) {
            return Step::Idle(Wake {
                timer: None,
                deadline: cb.deadline(),
            });
        }
        let (name, cause) = if timed_out {
            (
                errors::TIMEOUT,
                "The task timed out waiting for a callback (TimeoutSeconds)",
            )
        } else {
            (
                errors::HEARTBEAT_TIMEOUT,
                "The task did not send a heartbeat in time (HeartbeatSeconds)",
            )
        };
        let rec = self.token_record(&frame.state, cb, TokenStatus::TimedOut);
        let resource = cb.resource.clone();
        self.tokens.push(rec);
        let e = StateError::new(name, cause);
        let mut d = err_details(&e);
        d.resource = Some(resource.clone());
        d.resource_type = resource_type(&resource);
        self.emit(T::TaskTimedOut, d);
        self.fail_state(st, frame, e);
        Step::Progress
    }

    /// Applies a task's outcome to the frame at `path` (synchronous result or callback).
    pub fn complete_task(
        &mut self,
        def: &Definition,
        root: &mut Frame,
        path: &[usize],
        result: Result<Value, StateError>,
    ) {
        let Some((scope, frame)) = locate(def, root, path) else {
            tracing::warn!("task completion for a frame that no longer exists");
            return;
        };
        let Some(st) = scope.states.get(&frame.state) else {
            return;
        };
        let resource = resource_of(Some(st));
        if let Phase::Callback(cb) = &frame.phase {
            let status = TokenStatus::Completed;
            let rec = self.token_record(&frame.state, cb, status);
            self.tokens.push(rec);
        }
        match result {
            Ok(v) => {
                self.emit(
                    T::TaskSucceeded,
                    EventDetails {
                        output: Some(Arc::new(v.clone())),
                        resource: Some(resource.clone()),
                        resource_type: resource_type(&resource),
                        ..Default::default()
                    },
                );
                let State::Task(task) = st else {
                    frame.phase = Phase::Failed {
                        error: StateError::runtime(format!(
                            "a task result arrived for \"{}\", which is not a Task state",
                            frame.state
                        )),
                    };
                    return;
                };
                match self.result_output(&task.acting, frame, v) {
                    Ok((out, vars)) => self.exit_with(
                        StateType::Task,
                        frame,
                        out,
                        vars,
                        task.acting.transition.next.clone(),
                    ),
                    Err(e) => self.fail_state(st, frame, e),
                }
            }
            Err(e) => {
                let mut d = err_details(&e);
                d.resource = Some(resource.clone());
                d.resource_type = resource_type(&resource);
                self.emit(T::TaskFailed, d);
                frame.phase = Phase::Run;
                self.fail_state(st, frame, e);
            }
        }
    }

    /// Records that a callback task's handler ran (`Ok`) or failed to submit (`Err`).
    pub fn callback_submitted(
        &mut self,
        def: &Definition,
        root: &mut Frame,
        path: &[usize],
        result: Result<Value, StateError>,
    ) {
        match result {
            Ok(v) => {
                let Some((scope, frame)) = locate(def, root, path) else {
                    return;
                };
                let resource = resource_of(scope.states.get(&frame.state));
                if let Phase::Callback(cb) = &mut frame.phase {
                    cb.submitted = true;
                }
                self.emit(
                    T::TaskSubmitted,
                    EventDetails {
                        output: Some(Arc::new(v)),
                        resource_type: resource_type(&resource),
                        resource: Some(resource),
                        ..Default::default()
                    },
                );
            }
            Err(e) => self.complete_task(def, root, path, Err(e)),
        }
    }

    /// Resets the heartbeat deadline of the callback at `path`.
    pub fn heartbeat(&mut self, def: &Definition, root: &mut Frame, path: &[usize]) {
        let Some((_, frame)) = locate(def, root, path) else {
            return;
        };
        let now = self.now;
        let state = frame.state.clone();
        if let Phase::Callback(cb) = &mut frame.phase {
            if let Some(hb) = cb.heartbeat_seconds {
                cb.heartbeat_at = Some(now + secs(hb));
                let rec = self.token_record(&state, cb, TokenStatus::Pending);
                self.tokens.push(rec);
            }
        }
    }
}
