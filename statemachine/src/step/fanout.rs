//! What Map and Parallel share: child frames started up to `MaxConcurrency`, stepped one at a
//! time, their results collected in order, and the state failed when more children failed
//! than it tolerates.

use super::runner::{child_scope, err_details, Runner, Step};
use crate::definition::State;
use crate::errors::{self, StateError};
use crate::history::{EventDetails, HistoryEventType as T};
use crate::state::{Child, Fanout, Frame, Phase, Wake};
use serde_json::Value;

/// A Map's tolerated failures: (count, percentage).
pub(super) type Tolerance = (Option<u64>, Option<f64>);

impl Runner {
    /// Starts a Map (`is_map`) or Parallel state with one child per input.
    pub(super) fn begin_fanout(
        &mut self,
        is_map: bool,
        inputs: Vec<Value>,
        max_concurrency: usize,
        tolerated: Tolerance,
        frame: &mut Frame,
    ) {
        let n = inputs.len();
        self.emit(
            if is_map {
                T::MapStateStarted
            } else {
                T::ParallelStateStarted
            },
            EventDetails {
                length: is_map.then_some(n),
                ..Default::default()
            },
        );
        frame.phase = Phase::Fanout(Box::new(Fanout {
            is_map,
            inputs,
            children: vec![Child::Pending; n],
            max_concurrency,
            running: 0,
            next_start: 0,
            failures: 0,
            tolerated_count: tolerated.0,
            tolerated_percentage: tolerated.1,
            first_unfinished: 0,
            failed_frames: std::collections::BTreeMap::new(),
        }));
    }

    /// One step of a running Map or Parallel state `st`.
    pub(super) fn step_fanout(
        &mut self,
        st: &State,
        frame: &mut Frame,
        path: &mut Vec<usize>,
    ) -> Step {
        let acting = match st {
            State::Map(m) => &m.acting,
            State::Parallel(p) => &p.acting,
            _ => {
                frame.phase = Phase::Failed {
                    error: StateError::runtime(format!(
                        "\"{}\" runs children but is not a Map or Parallel state",
                        frame.state
                    )),
                };
                return Step::Progress;
            }
        };
        let Phase::Fanout(fo) = &mut frame.phase else {
            return Step::Progress;
        };
        let is_map = fo.is_map;
        let total = fo.children.len();

        // Too many failures: abort the remaining children and fail the state.
        let tolerance_set = fo.tolerated_count.is_some() || fo.tolerated_percentage.is_some();
        let exceeded = if !is_map || !tolerance_set {
            fo.failures > 0
        } else {
            let by_count = fo.tolerated_count.is_some_and(|c| fo.failures as u64 > c);
            let by_pct = fo
                .tolerated_percentage
                .is_some_and(|p| total > 0 && (fo.failures as f64 * 100.0 / total as f64) > p);
            by_count || by_pct
        };
        if exceeded {
            let first_error = fo.children.iter().find_map(|c| match c {
                Child::Failed(e) => Some(e.clone()),
                _ => None,
            });
            let error = if is_map && tolerance_set {
                StateError::new(
                    errors::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                    format!(
                        "{} of {} iterations failed, exceeding the tolerated failure threshold",
                        fo.failures, total
                    ),
                )
            } else {
                first_error
                    .unwrap_or_else(|| StateError::new(errors::BRANCH_FAILED, "a branch failed"))
            };
            for c in &fo.children {
                if let Child::Running(fr) = c {
                    self.close_callbacks(fr);
                }
            }
            self.emit(
                if is_map {
                    T::MapStateFailed
                } else {
                    T::ParallelStateFailed
                },
                err_details(&error),
            );
            let Phase::Fanout(children) = std::mem::replace(&mut frame.phase, Phase::Run) else {
                return Step::Progress;
            };
            self.fail_state(st, frame, error);
            // Unhandled (neither retried nor caught): keep the children for a redrive.
            if matches!(frame.phase, Phase::Failed { .. }) {
                frame.unfinished = Some(children);
            }
            return Step::Progress;
        }

        // All children finished: assemble the results.
        if fo.next_start >= total && fo.running == 0 {
            let results: Vec<Value> = std::mem::take(&mut fo.children)
                .into_iter()
                .map(|c| match c {
                    Child::Succeeded(v) => v,
                    Child::Failed(e) => e.to_output(),
                    _ => Value::Null,
                })
                .collect();
            self.emit(
                if is_map {
                    T::MapStateSucceeded
                } else {
                    T::ParallelStateSucceeded
                },
                EventDetails::default(),
            );
            // Like a task's result: ResultSelector, Assign, ResultPath, OutputPath.
            match self.result_output(acting, frame, Value::Array(results)) {
                Ok((out, vars)) => {
                    self.exit_with(st.kind(), frame, out, vars, acting.transition.next.clone())
                }
                Err(e) => {
                    frame.phase = Phase::Run;
                    self.fail_state(st, frame, e);
                }
            }
            return Step::Progress;
        }

        // Start another child if concurrency allows.
        if fo.next_start < total && (fo.max_concurrency == 0 || fo.running < fo.max_concurrency) {
            let i = fo.next_start;
            fo.next_start += 1;
            fo.running += 1;
            let input = std::mem::take(&mut fo.inputs[i]);
            let start_at = child_scope(st, i)
                .map(|scope| scope.start_at.clone())
                .unwrap_or_default();
            let mut child = Frame::new(&start_at, input, self.now);
            // The child reads its parent's variables; what it assigns stays inside it.
            child.vars = frame.vars.clone();
            fo.children[i] = Child::Running(Box::new(child));
            if is_map {
                self.emit(
                    T::MapIterationStarted,
                    EventDetails {
                        name: Some(frame.state.clone()),
                        index: Some(i),
                        ..Default::default()
                    },
                );
            }
            return Step::Progress;
        }

        // Step the first running child that can make progress.
        let mut wake = Wake::default();
        let state_name = frame.state.clone();
        let Phase::Fanout(fo) = &mut frame.phase else {
            return Step::Progress;
        };
        while fo.first_unfinished < fo.next_start
            && matches!(
                fo.children.get(fo.first_unfinished),
                Some(Child::Succeeded(_) | Child::Failed(_))
            )
        {
            fo.first_unfinished += 1;
        }
        for i in fo.first_unfinished..fo.children.len() {
            let Child::Running(child) = &mut fo.children[i] else {
                continue;
            };
            let Some(scope) = child_scope(st, i) else {
                continue;
            };
            path.push(i);
            let r = self.step_frame(scope, child, path);
            path.pop();
            match r {
                Step::Idle(w) => wake = wake.merge(w),
                Step::Done => {
                    let done = std::mem::replace(&mut fo.children[i], Child::Pending);
                    fo.running -= 1;
                    let Child::Running(mut child) = done else {
                        continue;
                    };
                    match std::mem::replace(&mut child.phase, Phase::Run) {
                        Phase::Failed { error } => {
                            fo.failures += 1;
                            if is_map {
                                let mut d = err_details(&error);
                                d.name = Some(state_name.clone());
                                d.index = Some(i);
                                self.emit(T::MapIterationFailed, d);
                            }
                            let mut failed = *child;
                            failed.phase = Phase::Failed {
                                error: error.clone(),
                            };
                            fo.failed_frames.insert(i, failed);
                            fo.children[i] = Child::Failed(error);
                        }
                        Phase::Succeeded { output } => {
                            if is_map {
                                self.emit(
                                    T::MapIterationSucceeded,
                                    EventDetails {
                                        name: Some(state_name.clone()),
                                        index: Some(i),
                                        ..Default::default()
                                    },
                                );
                            }
                            fo.children[i] = Child::Succeeded(output);
                        }
                        _ => {
                            fo.children[i] =
                                Child::Failed(StateError::runtime("child frame ended unexpectedly"))
                        }
                    }
                    return Step::Progress;
                }
                other => return other,
            }
        }
        Step::Idle(wake)
    }
}
