//! The pure interpreter: advances an execution's frame tree by one transition, emitting history
//! events and token updates, and returning the side effect (a task invocation) the async
//! driver in [`crate::engine`] must perform. No I/O happens here.
//!
//! One module per state type — [`pass`], [`choice`], [`wait`], [`terminal`] (Succeed and
//! Fail), [`task`], [`map`] and [`parallel`] (both run children through [`fanout`]) — each
//! over its own struct of [`crate::definition::State`]. What they share: [`runner`] (the
//! interpreter's context and bookkeeping), [`env`] (what expressions see, `Assign`),
//! [`output`] (input and output processing) and [`transition`] (leaving a state, Retry and
//! Catch). This module only dispatches on the frame's phase and the state's type.

mod choice;
mod env;
mod fanout;
mod map;
mod output;
mod parallel;
mod pass;
mod runner;
mod task;
mod terminal;
mod transition;
mod wait;

pub use output::MAX_PAYLOAD_BYTES;
pub use runner::{locate, token_hash, Runner, Step, TaskCall};

use crate::definition::{Definition, State};
use crate::errors::StateError;
use crate::history::{EventDetails, HistoryEventType as T};
use crate::state::{Frame, Phase, Wake};

impl Runner {
    /// Advances the tree rooted at `root` by one step.
    pub fn step(&mut self, def: &Definition, root: &mut Frame) -> Step {
        let mut path = Vec::new();
        self.step_frame(def, root, &mut path)
    }

    fn step_frame(&mut self, scope: &Definition, frame: &mut Frame, path: &mut Vec<usize>) -> Step {
        let Some(st) = scope.states.get(&frame.state) else {
            frame.phase = Phase::Failed {
                error: StateError::runtime(format!("no state named \"{}\"", frame.state)),
            };
            return Step::Done;
        };
        match &mut frame.phase {
            Phase::Succeeded { .. } | Phase::Failed { .. } => Step::Done,
            Phase::Enter => {
                self.transitions += 1;
                self.emit(
                    T::entered(st.kind().as_str()),
                    EventDetails {
                        name: Some(frame.state.clone()),
                        input: Some(frame.input.clone()),
                        ..Default::default()
                    },
                );
                frame.phase = Phase::Run;
                Step::Progress
            }
            Phase::Run => self.run_state(st, frame, path),
            Phase::Wait { until } => {
                let until = *until;
                match st {
                    State::Wait(w) => self.step_wait(w, frame, until),
                    _ => {
                        frame.phase = Phase::Failed {
                            error: StateError::runtime(format!(
                                "\"{}\" waits but is not a Wait state",
                                frame.state
                            )),
                        };
                        Step::Progress
                    }
                }
            }
            Phase::RetryDelay { until } => {
                if *until <= self.now {
                    frame.phase = Phase::Run;
                    Step::Progress
                } else {
                    Step::Idle(Wake {
                        timer: Some(*until),
                        deadline: None,
                    })
                }
            }
            Phase::Callback(_) => self.step_callback(st, frame),
            Phase::Fanout(_) => self.step_fanout(st, frame, path),
        }
    }

    fn run_state(&mut self, st: &State, frame: &mut Frame, path: &[usize]) -> Step {
        let res = match st {
            State::Pass(s) => self.run_pass(s, frame),
            State::Choice(s) => self.run_choice(s, frame),
            State::Wait(s) => self.run_wait(s, frame),
            State::Succeed(s) => self.run_succeed(s, frame),
            State::Fail(s) => self.run_fail(s, frame),
            State::Task(s) => return self.run_task(s, st, frame, path),
            State::Parallel(s) => self.run_parallel(s, frame),
            State::Map(s) => self.run_map(s, frame),
        };
        if let Err(e) = res {
            self.fail_state(st, frame, e);
        }
        Step::Progress
    }
}
