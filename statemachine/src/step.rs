//! The pure interpreter: advances an execution's frame tree by one transition, emitting history
//! events and token updates, and returning the side effect (a task invocation) the async
//! driver in [`crate::engine`] must perform. No I/O happens here.

use crate::assign::Assign;
use crate::choice;
use crate::definition::{Definition, QueryLanguage, State, StateType};
use crate::errors::{self, StateError};
use crate::history::{EventDetails, HistoryEvent, HistoryEventType as T};
use crate::intrinsics;
use crate::io::{self, ExecutionInfo, StateInfo};
use crate::jsonata::{ContextUse, Env, JsonataValue};
use crate::path;
use crate::retry::{self, RetryDecision};
use crate::state::{CallbackWait, Child, Fanout, Frame, Phase, Wake};
use crate::store::{TokenRecord, TokenStatus};
use crate::task::{self, Resource, TaskContext};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};
use sha2::Digest;
use std::borrow::Cow;
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

/// Step Functions' limit on a state's input and output: 256 KiB of UTF-8 JSON.
pub const MAX_PAYLOAD_BYTES: usize = 262_144;

/// Fails with `States.DataLimitExceeded`, as the service does, when `output` is larger than
/// [`MAX_PAYLOAD_BYTES`].
/// The variables of a scope after an `Assign`.
type Vars = Arc<Map<String, Value>>;

/// What all variables of an execution scope may hold together (serialized), as on AWS.
const VARIABLES_LIMIT_BYTES: usize = 10 * 1024 * 1024;

/// What one `Assign` may set (serialized), as on AWS.
const ASSIGN_LIMIT_BYTES: usize = 256 * 1024;

fn check_payload_size(state: &str, output: &Value) -> Result<(), StateError> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, output);
    if count.0 > MAX_PAYLOAD_BYTES {
        return Err(StateError::new(
            "States.DataLimitExceeded",
            format!(
                "The state/task '{state}' returned a result with a size exceeding the maximum number of bytes service limit ({} bytes > {MAX_PAYLOAD_BYTES}).",
                count.0
            ),
        ));
    }
    Ok(())
}

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

fn err_details(e: &StateError) -> EventDetails {
    EventDetails {
        error: Some(e.error.clone()),
        cause: Some(e.cause.clone()),
        ..Default::default()
    }
}

fn resource_type(resource: &str) -> Option<String> {
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

    fn ctx_value(
        &self,
        path: &str,
        frame: &Frame,
        token: Option<&str>,
        map_item: Option<(usize, &Value)>,
    ) -> Value {
        // `$name` (a workflow variable): `[value]`, or `[]` when unassigned (see path::select).
        if let Some(name) = crate::path::variable_name(path) {
            return Value::Array(frame.vars.get(name).cloned().into_iter().collect());
        }
        io::context_object_for(
            path,
            &self.exec,
            &StateInfo {
                name: &frame.state,
                entered_time: frame.entered,
                retry_count: frame.retry_count,
                task_token: token,
                map_item,
            },
        )
    }

    /// What a JSONata expression of the current state sees: `$states.input`, `$states.context`
    /// (with the task token when there is one) and `extra` (`result` or `errorOutput`).
    fn env(
        &self,
        st: &State,
        frame: &Frame,
        token: Option<&str>,
        extra: Option<(&str, Value)>,
    ) -> Env {
        self.env_at(st, frame, token, None, extra)
    }

    /// [`Self::env`] with `$states.context.Map.Item` (a JSONata Map's `ItemSelector`).
    fn env_at(
        &self,
        st: &State,
        frame: &Frame,
        token: Option<&str>,
        map_item: Option<(usize, &Value)>,
        extra: Option<(&str, Value)>,
    ) -> Env {
        let mut states = Map::new();
        if let Some(context) = self.jsonata_context(st, frame, token, map_item) {
            states.insert("context".into(), context);
        }
        if let Some((name, value)) = extra {
            states.insert(name.into(), value);
        }
        Env::with_input(
            Some(&frame.input),
            states,
            &frame.vars,
            self.now,
            st.host_fns,
        )
    }

    /// `$states.context` as far as the state's expressions read it (None: not at all).
    fn jsonata_context(
        &self,
        st: &State,
        frame: &Frame,
        token: Option<&str>,
        map_item: Option<(usize, &Value)>,
    ) -> Option<Value> {
        match st.context_use {
            ContextUse::None => None,
            ContextUse::WithoutInput => {
                let info = StateInfo {
                    name: &frame.state,
                    entered_time: frame.entered,
                    retry_count: frame.retry_count,
                    task_token: token,
                    map_item,
                };
                Some(io::context_object(&self.exec, &info, false))
            }
            ContextUse::Full => Some(self.ctx_value("$$", frame, token, map_item)),
        }
    }

    /// The variables after `assign`, evaluated against the variables as they were when the
    /// state started (JSONPath: `$` is `subject`; JSONata: `env`). None when nothing is assigned.
    fn assigned(
        &self,
        frame: &Frame,
        assign: Option<&Assign>,
        subject: &Value,
        env: Option<&Env>,
    ) -> Result<Option<Vars>, StateError> {
        let Some(assign) = assign else {
            return Ok(None);
        };
        let values = match (assign, env) {
            (Assign::Jsonata(v), Some(env)) => v.eval("Assign", env)?,
            (Assign::Jsonata(_), None) => {
                return Err(StateError::runtime(
                    "a JSONata Assign was evaluated without its state's $states",
                ))
            }
            (Assign::JsonPath(t), _) => {
                let ctx = |p: &str| self.ctx_value(p, frame, None, None);
                t.eval(subject, &ctx)?
            }
        };
        let Value::Object(values) = values else {
            return Err(StateError::new(
                errors::QUERY_EVALUATION_ERROR,
                "Assign must produce a JSON object",
            ));
        };
        let size = serde_json::to_vec(&values).map_or(usize::MAX, |b| b.len());
        if size > ASSIGN_LIMIT_BYTES {
            return Err(StateError::new(
                errors::DATA_LIMIT_EXCEEDED,
                format!(
                    "The variables assigned by state '{}' are {size} bytes, over the {ASSIGN_LIMIT_BYTES}-byte limit",
                    frame.state
                ),
            ));
        }
        let mut vars = Map::clone(&frame.vars);
        vars.extend(values);
        let total = serde_json::to_vec(&vars).map_or(usize::MAX, |b| b.len());
        if total > VARIABLES_LIMIT_BYTES {
            return Err(StateError::new(
                errors::DATA_LIMIT_EXCEEDED,
                format!(
                    "The variables of this execution would be {total} bytes, over the {VARIABLES_LIMIT_BYTES}-byte limit"
                ),
            ));
        }
        Ok(Some(Arc::new(vars)))
    }

    /// Leaves the state with `output`, after setting the variables it assigned.
    fn exit_with(
        &mut self,
        st: &State,
        frame: &mut Frame,
        output: Value,
        vars: Option<Vars>,
        next: Option<String>,
    ) {
        if let Some(vars) = vars {
            frame.vars = vars;
        }
        self.exit_state(st, frame, output, next);
    }

    /// A JSONata `Output` (or the state input when absent), with `$states` as `env` gives.
    fn jsonata_output(
        &self,
        output: Option<&JsonataValue>,
        frame: &Frame,
        env: &Env,
        default: Value,
    ) -> Result<Value, StateError> {
        let out = match output {
            Some(o) => o.eval("Output", env)?,
            None => default,
        };
        check_payload_size(&frame.state, &out)?;
        Ok(out)
    }

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
                    T::entered(st.kind.as_str()),
                    EventDetails {
                        name: Some(frame.state.clone()),
                        input: Some(frame.input.clone()),
                        ..Default::default()
                    },
                );
                frame.phase = Phase::Run;
                Step::Progress
            }
            Phase::Run => self.run_state(scope, st, frame, path),
            Phase::Wait { until } => {
                if *until <= self.now {
                    let out = if st.query_language == QueryLanguage::Jsonata {
                        let env = self.env(st, frame, None, None);
                        self.jsonata_output(
                            st.output.as_ref(),
                            frame,
                            &env,
                            Value::clone(&frame.input),
                        )
                        .and_then(|o| {
                            Ok((
                                o,
                                self.assigned(frame, st.assign.as_ref(), &Value::Null, Some(&env))?,
                            ))
                        })
                    } else {
                        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
                        io::apply_filter_path(&frame.input, &st.input_path, "InputPath", &ctx)
                            .and_then(|eff| {
                                let vars = self.assigned(frame, st.assign.as_ref(), &eff, None)?;
                                Ok((
                                    io::apply_filter_path_owned(
                                        eff,
                                        &st.output_path,
                                        "OutputPath",
                                        &ctx,
                                    )?,
                                    vars,
                                ))
                            })
                    };
                    match out {
                        Ok((o, vars)) => self.exit_with(st, frame, o, vars, st.next.clone()),
                        Err(e) => self.fail_state(st, frame, e),
                    }
                    Step::Progress
                } else {
                    Step::Idle(Wake {
                        timer: Some(*until),
                        deadline: None,
                    })
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
            Phase::Callback(cb) => {
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
                if timed_out || hb_out {
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
                    return Step::Progress;
                }
                Step::Idle(Wake {
                    timer: None,
                    deadline: cb.deadline(),
                })
            }
            Phase::Fanout(_) => self.step_fanout(st, frame, path),
        }
    }

    fn token_record(
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

    /// Leaves the current state with `output`, moving to `next` or finishing the scope.
    fn exit_state(&mut self, st: &State, frame: &mut Frame, output: Value, next: Option<String>) {
        self.exit_state_shared(st, frame, Arc::new(output), next)
    }

    /// [`Self::exit_state`] with an output that may already be shared (a Choice passing its
    /// input through).
    fn exit_state_shared(
        &mut self,
        st: &State,
        frame: &mut Frame,
        output: Arc<Value>,
        next: Option<String>,
    ) {
        if st.kind != StateType::Fail {
            self.emit(
                T::exited(st.kind.as_str()),
                EventDetails {
                    name: Some(frame.state.clone()),
                    output: Some(output.clone()),
                    ..Default::default()
                },
            );
        }
        self.goto(st, frame, output, next);
    }

    fn goto(&mut self, st: &State, frame: &mut Frame, output: Arc<Value>, next: Option<String>) {
        match next {
            Some(n) if st.kind != StateType::Succeed => {
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

    /// Handles an error raised by the current state: Retry, then Catch, else the scope fails.
    fn fail_state(&mut self, st: &State, frame: &mut Frame, err: StateError) {
        let handles = matches!(
            st.kind,
            StateType::Task | StateType::Parallel | StateType::Map
        );
        if handles && err.is_recoverable() {
            let decision = retry::decide(
                &st.retry,
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
                            + Duration::milliseconds(
                                i64::try_from(delay_ms).unwrap_or(i64::MAX / 2),
                            ),
                    }
                };
                tracing::debug!(state = %frame.state, error = %err.error, delay_ms, "retrying state");
                return;
            }
            if let Some(c) = retry::find_catcher(&st.catch, &err.error) {
                let next = c.next.clone();
                let caught = if st.query_language == QueryLanguage::Jsonata {
                    let env = self.env(st, frame, None, Some(("errorOutput", err.to_output())));
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
                return;
            }
        }
        frame.phase = Phase::Failed { error: err };
    }

    fn run_state(
        &mut self,
        scope: &Definition,
        st: &State,
        frame: &mut Frame,
        path: &[usize],
    ) -> Step {
        let res = match st.kind {
            StateType::Pass => self.run_pass(st, frame),
            StateType::Choice => self.run_choice(st, frame),
            StateType::Wait => self.run_wait(st, frame),
            StateType::Succeed => self.run_succeed(st, frame),
            StateType::Fail => self.run_fail(st, frame),
            StateType::Task => return self.run_task(st, frame, path),
            StateType::Parallel | StateType::Map => self.run_fanout_start(scope, st, frame),
        };
        if let Err(e) = res {
            self.fail_state(st, frame, e);
        }
        Step::Progress
    }

    fn effective_input(
        &self,
        st: &State,
        frame: &Frame,
        token: Option<&str>,
    ) -> Result<Value, StateError> {
        let ctx = |p: &str| self.ctx_value(p, frame, token, None);
        let v = io::filter_path(&frame.input, &st.input_path, "InputPath", &ctx)?;
        match &st.parameters {
            Some(p) => p.eval(&v, &ctx),
            None => Ok(v.into_owned()),
        }
    }

    /// ResultPath → OutputPath (a task's ResultSelector is applied before, in `task_output`,
    /// because `Assign` sees the selected result).
    fn finish_output(&self, st: &State, frame: &Frame, result: Value) -> Result<Value, StateError> {
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        // ResultPath absent discards the raw input: no need to copy it.
        let combined = match &st.result_path {
            io::OptPath::Default => result,
            p => io::apply_result_path(Value::clone(&frame.input), p, result)?,
        };
        let output = io::apply_filter_path_owned(combined, &st.output_path, "OutputPath", &ctx)?;
        check_payload_size(&frame.state, &output)?;
        Ok(output)
    }

    fn run_pass(&mut self, st: &State, frame: &mut Frame) -> Result<(), StateError> {
        if st.query_language == QueryLanguage::Jsonata {
            let env = self.env(st, frame, None, None);
            let out =
                self.jsonata_output(st.output.as_ref(), frame, &env, Value::clone(&frame.input))?;
            let vars = self.assigned(frame, st.assign.as_ref(), &Value::Null, Some(&env))?;
            self.exit_with(st, frame, out, vars, st.next.clone());
            return Ok(());
        }
        let result = match &st.result {
            // `Result` replaces the effective input; InputPath and Parameters can still fail.
            Some(r) => {
                if !io::keeps_whole(&st.input_path) || st.parameters.is_some() {
                    self.effective_input(st, frame, None)?;
                }
                r.clone()
            }
            None => self.effective_input(st, frame, None)?,
        };
        let vars = self.assigned(frame, st.assign.as_ref(), &result, None)?;
        let out = self.finish_output(st, frame, result)?;
        self.exit_with(st, frame, out, vars, st.next.clone());
        Ok(())
    }

    fn run_choice(&mut self, st: &State, frame: &mut Frame) -> Result<(), StateError> {
        if st.query_language == QueryLanguage::Jsonata {
            return self.run_choice_jsonata(st, frame);
        }
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        let eff = io::filter_path(&frame.input, &st.input_path, "InputPath", &ctx)?;
        let rules = st.choices.as_deref().unwrap_or(&[]);
        let (next, rule) = choice::choose_rule(rules, st.default.as_deref(), &eff, &ctx)?;
        let next = next.to_string();
        let assign = rule.and_then(|r| r.assign.as_ref()).or(st.assign.as_ref());
        let vars = self.assigned(frame, assign, &eff, None)?;
        let out = match eff {
            // The common Choice passes its input through unchanged: share it, copy nothing.
            Cow::Borrowed(_) if io::keeps_whole(&st.output_path) => None,
            eff => Some(io::apply_filter_path_owned(
                eff.into_owned(),
                &st.output_path,
                "OutputPath",
                &ctx,
            )?),
        };
        let out = out.map_or_else(|| frame.input.clone(), Arc::new);
        // Assigned values are visible from the next state on, not in this state's own fields.
        if let Some(vars) = vars {
            frame.vars = vars;
        }
        self.exit_state_shared(st, frame, out, Some(next));
        Ok(())
    }

    /// A JSONata Choice: the first rule whose `Condition` is true; its `Output`/`Assign` (else
    /// the state's) are evaluated against the state's input and the variables at its start.
    fn run_choice_jsonata(&mut self, st: &State, frame: &mut Frame) -> Result<(), StateError> {
        let env = self.env(st, frame, None, None);
        let mut matched = None;
        for rule in st.choices.as_deref().unwrap_or(&[]) {
            let choice::Condition::Jsonata(condition) = &rule.condition else {
                continue;
            };
            match condition.eval("Condition", &env)? {
                Value::Bool(true) => {
                    matched = Some(rule);
                    break;
                }
                Value::Bool(false) => {}
                other => {
                    return Err(StateError::new(
                        errors::QUERY_EVALUATION_ERROR,
                        format!(
                        "The Condition of a choice rule must evaluate to a boolean, got {other}"
                    ),
                    ))
                }
            }
        }
        let next = match matched.and_then(|r| r.next.as_deref()) {
            Some(next) => next.to_string(),
            None => choice::no_match(st.default.as_deref())?.to_string(),
        };
        let output = matched
            .and_then(|r| r.output.as_ref())
            .or(st.output.as_ref());
        let assign = matched
            .and_then(|r| r.assign.as_ref())
            .or(st.assign.as_ref());
        let out = self.jsonata_output(output, frame, &env, Value::clone(&frame.input))?;
        let vars = self.assigned(frame, assign, &Value::Null, Some(&env))?;
        self.exit_with(st, frame, out, vars, Some(next));
        Ok(())
    }

    fn run_wait(&mut self, st: &State, frame: &mut Frame) -> Result<(), StateError> {
        if st.query_language == QueryLanguage::Jsonata {
            let env = self.env(st, frame, None, None);
            let until = if let Some(e) = &st.seconds_expr {
                let v = e.eval("Seconds", &env)?;
                let s = v.as_u64().ok_or_else(|| {
                    StateError::new(
                        errors::QUERY_EVALUATION_ERROR,
                        format!("Seconds must evaluate to a non-negative integer, got {v}"),
                    )
                })?;
                self.now + Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1_000_000))
            } else if let Some(e) = &st.timestamp_expr {
                let v = e.eval("Timestamp", &env)?;
                let t = v.as_str().ok_or_else(|| {
                    StateError::new(
                        errors::QUERY_EVALUATION_ERROR,
                        format!("Timestamp must evaluate to a timestamp string, got {v}"),
                    )
                })?;
                parse_timestamp(t)?
            } else if let Some(s) = st.seconds {
                self.now + Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1_000_000))
            } else if let Some(t) = &st.timestamp {
                parse_timestamp(t)?
            } else {
                return Err(StateError::runtime(
                    "Wait state has no Seconds or Timestamp",
                ));
            };
            frame.phase = Phase::Wait { until };
            return Ok(());
        }
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        let eff = io::apply_filter_path(&frame.input, &st.input_path, "InputPath", &ctx)?;
        let until = if let Some(s) = st.seconds {
            self.now + Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1_000_000))
        } else if let Some(t) = &st.timestamp {
            parse_timestamp(t)?
        } else if let Some(p) = &st.seconds_path {
            let v = path::select(&eff, p, &ctx)
                .map_err(|e| StateError::runtime(format!("SecondsPath: {e}")))?;
            let s = v.as_u64().ok_or_else(|| {
                StateError::runtime(format!(
                    "SecondsPath '{p}' must select a non-negative integer, got {v}"
                ))
            })?;
            self.now + Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1_000_000))
        } else if let Some(p) = &st.timestamp_path {
            let v = path::select(&eff, p, &ctx)
                .map_err(|e| StateError::runtime(format!("TimestampPath: {e}")))?;
            let s = v.as_str().ok_or_else(|| {
                StateError::runtime(format!(
                    "TimestampPath '{p}' must select a timestamp string, got {v}"
                ))
            })?;
            parse_timestamp(s)?
        } else {
            return Err(StateError::runtime(
                "Wait state has no Seconds, Timestamp, SecondsPath or TimestampPath",
            ));
        };
        frame.phase = Phase::Wait { until };
        Ok(())
    }

    fn run_succeed(&mut self, st: &State, frame: &mut Frame) -> Result<(), StateError> {
        if st.query_language == QueryLanguage::Jsonata {
            let env = self.env(st, frame, None, None);
            let out =
                self.jsonata_output(st.output.as_ref(), frame, &env, Value::clone(&frame.input))?;
            self.exit_state(st, frame, out, None);
            return Ok(());
        }
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        let eff = io::apply_filter_path(&frame.input, &st.input_path, "InputPath", &ctx)?;
        let out = io::apply_filter_path_owned(eff, &st.output_path, "OutputPath", &ctx)?;
        self.exit_state(st, frame, out, None);
        Ok(())
    }

    fn run_fail(&mut self, st: &State, frame: &mut Frame) -> Result<(), StateError> {
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        let resolve = |lit: &Option<String>,
                       p: &Option<String>,
                       field: &str|
         -> Result<Option<String>, StateError> {
            if let Some(l) = lit {
                return Ok(Some(l.clone()));
            }
            let Some(p) = p else { return Ok(None) };
            let v = if intrinsics::looks_like_call(p) {
                intrinsics::eval_str(p, &frame.input, &ctx)?
            } else {
                path::select(&frame.input, p, &ctx)
                    .map_err(|e| StateError::runtime(format!("{field}: {e}")))?
            };
            match v {
                Value::String(s) => Ok(Some(s)),
                other => Err(StateError::runtime(format!(
                    "{field} must resolve to a string, got {other}"
                ))),
            }
        };
        let (error, cause) = if st.query_language == QueryLanguage::Jsonata {
            let env = self.env(st, frame, None, None);
            let text = |lit: &Option<String>, expr: &Option<JsonataValue>, field: &str| match (
                lit, expr,
            ) {
                (Some(l), _) => Ok(l.clone()),
                (None, Some(e)) => match e.eval(field, &env)? {
                    Value::String(s) => Ok(s),
                    other => Err(StateError::new(
                        errors::QUERY_EVALUATION_ERROR,
                        format!("{field} must evaluate to a string, got {other}"),
                    )),
                },
                (None, None) => Ok(String::new()),
            };
            (
                text(&st.error, &st.error_expr, "Error")?,
                text(&st.cause, &st.cause_expr, "Cause")?,
            )
        } else {
            (
                resolve(&st.error, &st.error_path, "ErrorPath")?.unwrap_or_default(),
                resolve(&st.cause, &st.cause_path, "CausePath")?.unwrap_or_default(),
            )
        };
        frame.phase = Phase::Failed {
            error: StateError::new(error, cause),
        };
        Ok(())
    }

    fn seconds_field(
        &self,
        st: &State,
        frame: &Frame,
        lit: Option<u64>,
        p: &Option<String>,
        field: &str,
    ) -> Result<Option<u64>, StateError> {
        if lit.is_some() {
            return Ok(lit);
        }
        let Some(p) = p else { return Ok(None) };
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        let eff = io::apply_filter_path(&frame.input, &st.input_path, "InputPath", &ctx)?;
        let v = path::select(&eff, p, &ctx)
            .map_err(|e| StateError::runtime(format!("{field}: {e}")))?;
        v.as_u64().filter(|n| *n > 0).map(Some).ok_or_else(|| {
            StateError::runtime(format!(
                "{field} '{p}' must select a positive integer, got {v}"
            ))
        })
    }

    /// A JSONata `TimeoutSeconds`/`HeartbeatSeconds`: a positive integer.
    fn positive_seconds(
        &self,
        st: &State,
        expr: &JsonataValue,
        frame: &Frame,
        field: &str,
    ) -> Result<u64, StateError> {
        let v = expr.eval(field, &self.env(st, frame, None, None))?;
        v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
            StateError::new(
                errors::QUERY_EVALUATION_ERROR,
                format!("{field} must evaluate to a positive integer, got {v}"),
            )
        })
    }

    fn run_task(&mut self, st: &State, frame: &mut Frame, path: &[usize]) -> Step {
        match self.schedule_task(st, frame, path) {
            Ok(call) => Step::Effect(Box::new(call)),
            Err(e) => {
                self.fail_state(st, frame, e);
                Step::Progress
            }
        }
    }

    fn schedule_task(
        &mut self,
        st: &State,
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
        let timeout = match &st.timeout_seconds_expr {
            Some(e) => Some(self.positive_seconds(st, e, frame, "TimeoutSeconds")?),
            None => self.seconds_field(
                st,
                frame,
                st.timeout_seconds,
                &st.timeout_seconds_path,
                "TimeoutSecondsPath",
            )?,
        };
        let heartbeat = match &st.heartbeat_seconds_expr {
            Some(e) => Some(self.positive_seconds(st, e, frame, "HeartbeatSeconds")?),
            None => self.seconds_field(
                st,
                frame,
                st.heartbeat_seconds,
                &st.heartbeat_seconds_path,
                "HeartbeatSecondsPath",
            )?,
        };
        let token = callback.then(new_token);
        let input = if st.query_language == QueryLanguage::Jsonata {
            match &st.arguments {
                Some(arguments) => {
                    arguments.eval("Arguments", &self.env(st, frame, token.as_deref(), None))?
                }
                None => Value::clone(&frame.input),
            }
        } else {
            self.effective_input(st, frame, token.as_deref())?
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
            let secs = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1_000_000));
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
        let resource = st.resource.clone().unwrap_or_default();
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
                match self.task_output(st, frame, v) {
                    Ok((out, vars)) => self.exit_with(st, frame, out, vars, st.next.clone()),
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

    /// A task's (or a Map's or Parallel's) output and the variables it assigns. JSONata:
    /// `Output` and `Assign` with `$states.result`; JSONPath: ResultSelector, then `Assign`
    /// against the selected result, then ResultPath and OutputPath.
    fn task_output(
        &self,
        st: &State,
        frame: &Frame,
        result: Value,
    ) -> Result<(Value, Option<Vars>), StateError> {
        if st.query_language == QueryLanguage::Jsonata {
            let env = self.env(st, frame, None, Some(("result", result.clone())));
            let out = self.jsonata_output(st.output.as_ref(), frame, &env, result)?;
            let vars = self.assigned(frame, st.assign.as_ref(), &Value::Null, Some(&env))?;
            return Ok((out, vars));
        }
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        let selected = match &st.result_selector {
            Some(sel) => sel.eval(&result, &ctx)?,
            None => result,
        };
        let vars = self.assigned(frame, st.assign.as_ref(), &selected, None)?;
        Ok((self.finish_output(st, frame, selected)?, vars))
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
                let resource = scope
                    .states
                    .get(&frame.state)
                    .and_then(|s| s.resource.clone())
                    .unwrap_or_default();
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
                cb.heartbeat_at = Some(
                    now + Duration::seconds(i64::try_from(hb).unwrap_or(i64::MAX / 1_000_000)),
                );
                let rec = self.token_record(&state, cb, TokenStatus::Pending);
                self.tokens.push(rec);
            }
        }
    }

    fn run_fanout_start(
        &mut self,
        scope: &Definition,
        st: &State,
        frame: &mut Frame,
    ) -> Result<(), StateError> {
        let _ = scope;
        let ctx = |p: &str| self.ctx_value(p, frame, None, None);
        let is_map = st.kind == StateType::Map;
        let (inputs, max_concurrency, tolerated) = if st.query_language == QueryLanguage::Jsonata {
            let (inputs, max) = self.fanout_inputs_jsonata(st, frame)?;
            (inputs, max, self.tolerance_jsonata(st, frame)?)
        } else if is_map {
            if st.item_reader.is_some() {
                return Err(StateError::new(
                    errors::ITEM_READER_FAILED,
                    "ItemReader (Distributed Map reading from S3) is not supported by the local engine",
                ));
            }
            let eff = io::apply_filter_path(&frame.input, &st.input_path, "InputPath", &ctx)?;
            let items = match &st.items_path {
                Some(p) => path::select(&eff, p, &ctx)
                    .map_err(|e| StateError::runtime(format!("ItemsPath: {e}")))?,
                None => eff.clone(),
            };
            let Value::Array(items) = items else {
                return Err(StateError::runtime(format!(
                    "ItemsPath '{}' must select an array, got {}",
                    st.items_path.as_deref().unwrap_or("$"),
                    path::type_name(&items)
                )));
            };
            let mut inputs = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                inputs.push(match &st.item_selector {
                    Some(sel) => {
                        let ictx = |p: &str| self.ctx_value(p, frame, None, Some((i, &item)));
                        sel.eval(&eff, &ictx)?
                    }
                    None => item,
                });
            }
            let mc = match (&st.max_concurrency, &st.max_concurrency_path) {
                (Some(m), _) => *m,
                (None, Some(p)) => {
                    let v = path::select(&eff, p, &ctx)
                        .map_err(|e| StateError::runtime(format!("MaxConcurrencyPath: {e}")))?;
                    v.as_u64().ok_or_else(|| {
                        StateError::runtime(format!(
                            "MaxConcurrencyPath must select a non-negative integer, got {v}"
                        ))
                    })?
                }
                (None, None) => 0,
            };
            let tolerated = tolerance_jsonpath(st, &eff, &ctx)?;
            (inputs, usize::try_from(mc).unwrap_or(0), tolerated)
        } else {
            let eff = self.effective_input(st, frame, None)?;
            let n = st.branches.as_ref().map_or(0, Vec::len);
            (vec![eff; n], 0, (None, None))
        };
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
        Ok(())
    }

    /// A JSONata Map's iteration inputs (`Items`, default the state input; `ItemSelector` per
    /// item with `$states.context.Map.Item`) and `MaxConcurrency`; a Parallel's branch input
    /// (`Arguments`, default the state input).
    fn fanout_inputs_jsonata(
        &self,
        st: &State,
        frame: &Frame,
    ) -> Result<(Vec<Value>, usize), StateError> {
        let env = self.env(st, frame, None, None);
        if st.kind != StateType::Map {
            let input = match &st.arguments {
                Some(a) => a.eval("Arguments", &env)?,
                None => Value::clone(&frame.input),
            };
            let n = st.branches.as_ref().map_or(0, Vec::len);
            return Ok((vec![input; n], 0));
        }
        if st.item_reader.is_some() {
            return Err(StateError::new(
                errors::ITEM_READER_FAILED,
                "ItemReader (Distributed Map reading from S3) is not supported by the local engine",
            ));
        }
        let items = match &st.items {
            Some(items) => items.eval("Items", &env)?,
            None => Value::clone(&frame.input),
        };
        let Value::Array(items) = items else {
            return Err(StateError::new(
                errors::QUERY_EVALUATION_ERROR,
                format!("Items must be an array, got {}", path::type_name(&items)),
            ));
        };
        let mut inputs = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            inputs.push(match &st.item_selector_jsonata {
                // The Map's input is converted once (in `env`); each item only swaps the
                // context, which carries `Map.Item`.
                Some(sel) => {
                    let context = self.jsonata_context(st, frame, None, Some((i, &item)));
                    let item_env = match context {
                        Some(context) => env.with_member("context", context),
                        None => env.with_member("context", Value::Null),
                    };
                    sel.eval("ItemSelector", &item_env)?
                }
                None => item,
            });
        }
        let max = match (&st.max_concurrency_expr, st.max_concurrency) {
            (Some(e), _) => {
                let v = e.eval("MaxConcurrency", &env)?;
                v.as_u64().ok_or_else(|| {
                    StateError::new(
                        errors::QUERY_EVALUATION_ERROR,
                        format!("MaxConcurrency must evaluate to a non-negative integer, got {v}"),
                    )
                })?
            }
            (None, Some(m)) => m,
            (None, None) => 0,
        };
        Ok((inputs, usize::try_from(max).unwrap_or(0)))
    }

    /// A JSONata Map's `ToleratedFailureCount` and `ToleratedFailurePercentage`, literals or
    /// expressions evaluated against the state's input.
    fn tolerance_jsonata(&self, st: &State, frame: &Frame) -> Result<Tolerance, StateError> {
        if st.kind != StateType::Map {
            return Ok((None, None));
        }
        let exprs = [
            &st.tolerated_failure_count_expr,
            &st.tolerated_failure_percentage_expr,
        ];
        if exprs.iter().all(|e| e.is_none()) {
            return Ok((st.tolerated_failure_count, st.tolerated_failure_percentage));
        }
        let env = self.env(st, frame, None, None);
        let count = match &st.tolerated_failure_count_expr {
            Some(e) => Some(
                tolerated_count(e.eval("ToleratedFailureCount", &env)?).map_err(|msg| {
                    StateError::new(
                        errors::QUERY_EVALUATION_ERROR,
                        format!("ToleratedFailureCount {msg}"),
                    )
                })?,
            ),
            None => st.tolerated_failure_count,
        };
        let percentage = match &st.tolerated_failure_percentage_expr {
            Some(e) => Some(
                tolerated_percentage(e.eval("ToleratedFailurePercentage", &env)?).map_err(
                    |msg| {
                        StateError::new(
                            errors::QUERY_EVALUATION_ERROR,
                            format!("ToleratedFailurePercentage {msg}"),
                        )
                    },
                )?,
            ),
            None => st.tolerated_failure_percentage,
        };
        Ok((count, percentage))
    }

    fn step_fanout(&mut self, st: &State, frame: &mut Frame, path: &mut Vec<usize>) -> Step {
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
            match self.task_output(st, frame, Value::Array(results)) {
                Ok((out, vars)) => self.exit_with(st, frame, out, vars, st.next.clone()),
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
            let start_at = if is_map {
                st.item_processor.as_ref().map(|p| p.start_at.clone())
            } else {
                st.branches
                    .as_ref()
                    .and_then(|b| b.get(i))
                    .map(|b| b.start_at.clone())
            }
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
            let scope = if is_map {
                st.item_processor.as_deref()
            } else {
                st.branches.as_ref().and_then(|b| b.get(i))
            };
            let Some(scope) = scope else { continue };
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
        scope = match st.kind {
            StateType::Map => st.item_processor.as_deref()?,
            _ => st.branches.as_ref()?.get(i)?,
        };
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

/// An RFC 3339 timestamp with the `T` separator (the service refuses `2016-12-05 21:29:29Z`,
/// which chrono's RFC 3339 parser would take).
/// A Map's tolerated failures: (count, percentage).
type Tolerance = (Option<u64>, Option<f64>);

fn tolerated_count(v: Value) -> Result<u64, String> {
    v.as_u64()
        .or_else(|| {
            v.as_f64()
                .filter(|x| *x >= 0.0 && x.fract() == 0.0)
                .map(|x| x as u64)
        })
        .ok_or_else(|| format!("must be a non-negative integer, got {v}"))
}

fn tolerated_percentage(v: Value) -> Result<f64, String> {
    v.as_f64()
        .filter(|p| (0.0..=100.0).contains(p))
        .ok_or_else(|| format!("must be a number between 0 and 100, got {v}"))
}

/// A JSONPath Map's tolerated failures: the literals, or the values its
/// `ToleratedFailureCountPath`/`ToleratedFailurePercentagePath` select from the effective input.
fn tolerance_jsonpath(
    st: &State,
    eff: &Value,
    ctx: &dyn Fn(&str) -> Value,
) -> Result<Tolerance, StateError> {
    let select = |field: &str, p: &str| {
        path::select(eff, p, ctx).map_err(|e| StateError::runtime(format!("{field}: {e}")))
    };
    let count = match &st.tolerated_failure_count_path {
        Some(p) => Some(
            tolerated_count(select("ToleratedFailureCountPath", p)?)
                .map_err(|m| StateError::runtime(format!("ToleratedFailureCountPath {m}")))?,
        ),
        None => st.tolerated_failure_count,
    };
    let percentage = match &st.tolerated_failure_percentage_path {
        Some(p) => Some(
            tolerated_percentage(select("ToleratedFailurePercentagePath", p)?)
                .map_err(|m| StateError::runtime(format!("ToleratedFailurePercentagePath {m}")))?,
        ),
        None => st.tolerated_failure_percentage,
    };
    Ok((count, percentage))
}

pub(crate) fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, StateError> {
    if s.get(10..11)
        .is_none_or(|sep| !sep.eq_ignore_ascii_case("t"))
    {
        return Err(StateError::runtime(format!(
            "invalid timestamp '{s}': expected an ISO 8601 / RFC 3339 timestamp such as 2016-03-14T01:59:00Z"
        )));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| StateError::runtime(format!("invalid timestamp '{s}': {e}")))
}
