//! Leaving a state: with an output to `Next` (or the end of the scope), or with an error
//! through the state's `Retry` and `Catch`.

use super::env::Vars;
use super::runner::Runner;
use crate::definition::{QueryLanguage, State, StateType};
use crate::errors::StateError;
use crate::history::{EventDetails, HistoryEventType as T};
use crate::io;
use crate::retry::{self, RetryDecision};
use crate::state::{Frame, Phase};
use chrono::Duration;
use serde_json::Value;
use std::sync::Arc;

impl Runner {
    /// Leaves the state with `output`, after setting the variables it assigned.
    pub(super) fn exit_with(
        &mut self,
        kind: StateType,
        frame: &mut Frame,
        output: Value,
        vars: Option<Vars>,
        next: Option<String>,
    ) {
        if let Some(vars) = vars {
            frame.vars = vars;
        }
        self.exit_state(kind, frame, output, next);
    }

    /// Leaves the current state with `output`, moving to `next` or finishing the scope.
    pub(super) fn exit_state(
        &mut self,
        kind: StateType,
        frame: &mut Frame,
        output: Value,
        next: Option<String>,
    ) {
        self.exit_state_shared(kind, frame, Arc::new(output), next)
    }

    /// [`Self::exit_state`] with an output that may already be shared (a Choice passing its
    /// input through).
    pub(super) fn exit_state_shared(
        &mut self,
        kind: StateType,
        frame: &mut Frame,
        output: Arc<Value>,
        next: Option<String>,
    ) {
        if kind != StateType::Fail {
            self.emit(
                T::exited(kind.as_str()),
                EventDetails {
                    name: Some(frame.state.clone()),
                    output: Some(output.clone()),
                    ..Default::default()
                },
            );
        }
        self.goto(kind, frame, output, next);
    }

    fn goto(
        &mut self,
        kind: StateType,
        frame: &mut Frame,
        output: Arc<Value>,
        next: Option<String>,
    ) {
        match next {
            Some(n) if kind != StateType::Succeed => {
                frame.state = n;
                frame.input = output;
                frame.entered = self.now;
                frame.retries.clear();
                frame.retry_count = 0;
                frame.phase = Phase::Enter;
            }
            _ => {
                frame.phase = Phase::Succeeded {
                    output: Arc::unwrap_or_clone(output),
                }
            }
        }
    }

    /// Handles an error raised by the current state: Retry, then Catch (Task, Parallel and
    /// Map states), else the scope fails.
    pub(super) fn fail_state(&mut self, st: &State, frame: &mut Frame, err: StateError) {
        let Some(handling) = st.error_handling().filter(|_| err.is_recoverable()) else {
            frame.phase = Phase::Failed { error: err };
            return;
        };
        let decision = retry::decide(
            &handling.retry,
            &frame.retries,
            &err.error,
            &mut rand::thread_rng(),
        );
        if let RetryDecision::Retry { index, delay_ms } = decision {
            if frame.retries.len() <= index {
                frame.retries.resize(index + 1, 0);
            }
            frame.retries[index] += 1;
            frame.retry_count += 1;
            frame.phase = if delay_ms == 0 {
                Phase::Run
            } else {
                Phase::RetryDelay {
                    until: self.now
                        + Duration::milliseconds(i64::try_from(delay_ms).unwrap_or(i64::MAX / 2)),
                }
            };
            tracing::debug!(state = %frame.state, error = %err.error, delay_ms, "retrying state");
            return;
        }
        let Some(c) = retry::find_catcher(&handling.catch, &err.error) else {
            frame.phase = Phase::Failed { error: err };
            return;
        };
        let next = c.next.clone();
        let common = st.common();
        let caught = if common.query_language == QueryLanguage::Jsonata {
            let env = self.env(common, frame, None, Some(("errorOutput", err.to_output())));
            self.jsonata_output(c.output.as_ref(), frame, &env, err.to_output())
                .and_then(|out| {
                    Ok((
                        out,
                        self.assigned(frame, c.assign.as_ref(), &Value::Null, Some(&env))?,
                    ))
                })
        } else {
            self.assigned(frame, c.assign.as_ref(), &err.to_output(), None)
                .and_then(|vars| {
                    Ok((
                        io::apply_result_path(
                            Value::clone(&frame.input),
                            &c.result_path,
                            err.to_output(),
                        )?,
                        vars,
                    ))
                })
        };
        match caught {
            Ok((out, vars)) => {
                tracing::debug!(state = %frame.state, error = %err.error, next = %next, "caught error");
                if let Some(vars) = vars {
                    frame.vars = vars;
                }
                frame.state = next;
                frame.input = Arc::new(out);
                frame.entered = self.now;
                frame.retries.clear();
                frame.retry_count = 0;
                frame.phase = Phase::Enter;
            }
            Err(e) => frame.phase = Phase::Failed { error: e },
        }
    }
}
