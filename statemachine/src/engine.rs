//! The async driver: loads an execution from the store, repeatedly applies the pure
//! [`Runner`](crate::step::Runner) step function, performs task invocations, commits after each
//! effect and at every suspension, and manages timers, callbacks and child executions.

use crate::clock::Clock;
use crate::definition::Definition;
use crate::errors::{self, StateError};
use crate::history::{EventDetails, HistoryEvent, HistoryEventType as T};
use crate::io::ExecutionInfo;
use crate::state::{ExecState, Frame, Phase};
use crate::step::{self, Runner, Step, TaskCall};
use crate::store::{
    Commit, ExecutionDescription, ExecutionRecord, ExecutionStatus, ExecutionStore,
    StateMachineRecord, StateMachineType, StoreError, TokenStatus,
};
use crate::task::{self, HandlerRegistry, Resource};
use crate::validate::{self, ValidationError};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Region and account used in local ARNs.
pub const LOCAL_REGION: &str = "local";
/// Account used in local ARNs.
pub const LOCAL_ACCOUNT: &str = "000000000000";

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// When only Wait/Retry timers remain, jump the virtual clock to the earliest one.
    pub auto_advance_timers: bool,
    /// Runaway guard: an execution making more state transitions fails with `States.Runtime`.
    pub max_transitions_per_execution: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            auto_advance_timers: true,
            max_transitions_per_execution: 25_000,
        }
    }
}

/// Engine errors, named as the Step Functions API names them where it has a name.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Unknown or malformed task token.
    #[error("InvalidToken: {0}")]
    InvalidToken(String),
    /// The token was already used, or its task timed out or was closed.
    #[error("TaskTimedOut: {0}")]
    TaskTimedOut(String),
    /// No such execution.
    #[error("ExecutionDoesNotExist: {0}")]
    ExecutionDoesNotExist(String),
    /// No such state machine.
    #[error("StateMachineDoesNotExist: {0}")]
    StateMachineDoesNotExist(String),
    /// An execution with this name exists (and is closed or has different input).
    #[error("ExecutionAlreadyExists: {0}")]
    ExecutionAlreadyExists(String),
    /// The definition failed parsing or validation.
    #[error("InvalidDefinition: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidDefinition(Vec<ValidationError>),
    /// Invalid state machine or execution name.
    #[error("InvalidName: {0}")]
    InvalidName(String),
    /// Invalid ARN.
    #[error("InvalidArn: {0}")]
    InvalidArn(String),
    /// The execution cannot be redriven (not failed, too old, no saved state, limit reached).
    #[error("{0}")]
    ExecutionNotRedrivable(String),
    /// The clock cannot be advanced (not a virtual clock).
    #[error("ClockNotVirtual: advance_time requires a VirtualClock")]
    ClockNotVirtual,
    /// Storage failure.
    #[error("StoreError: {0}")]
    Store(#[from] StoreError),
}

/// An execution's error or cause as the service reports it: absent (null) when empty, e.g.
/// a Fail state with neither Error nor Cause.
fn present(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

impl EngineError {
    /// The AWS-style error name.
    pub fn name(&self) -> &'static str {
        match self {
            EngineError::InvalidToken(_) => "InvalidToken",
            EngineError::TaskTimedOut(_) => "TaskTimedOut",
            EngineError::ExecutionDoesNotExist(_) => "ExecutionDoesNotExist",
            EngineError::StateMachineDoesNotExist(_) => "StateMachineDoesNotExist",
            EngineError::ExecutionAlreadyExists(_) => "ExecutionAlreadyExists",
            EngineError::InvalidDefinition(_) => "InvalidDefinition",
            EngineError::InvalidName(_) => "InvalidName",
            EngineError::InvalidArn(_) => "InvalidArn",
            EngineError::ExecutionNotRedrivable(_) => "ExecutionNotRedrivable",
            EngineError::ClockNotVirtual => "ClockNotVirtual",
            EngineError::Store(_) => "StoreError",
        }
    }
}

/// A callback task waiting for `send_task_success`/`failure` (the token is never exposed).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PendingCallback {
    /// Task state name.
    pub state_name: String,
    /// Task resource.
    pub resource: String,
    /// Earliest of the timeout and heartbeat deadlines.
    pub deadline: Option<DateTime<Utc>>,
    /// `TimeoutSeconds` deadline.
    pub timeout_at: Option<DateTime<Utc>>,
    /// Heartbeat deadline.
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// When the token was issued.
    pub created_at: DateTime<Utc>,
}

/// What `advance_time`/`run_due` did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AdvanceReport {
    /// The clock after advancing.
    pub now: Option<DateTime<Utc>>,
    /// Executions that had due work and were run.
    pub resumed: Vec<String>,
    /// Executions (including children) that reached a terminal status.
    pub completed: Vec<String>,
}

struct Inner {
    store: Arc<dyn ExecutionStore>,
    registry: HandlerRegistry,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
    lock: tokio::sync::Mutex<()>,
    defs: Mutex<HashMap<String, Arc<Definition>>>,
    task_override: std::sync::RwLock<Option<Arc<dyn task::TaskOverride>>>,
}

/// Held while one engine operation runs: the in-process mutex and, for a store shared by
/// several processes, an exclusive lock on the store's lock file. Two processes on one data
/// directory never step the same execution at once (a losing step would already have run its
/// handler's side effects, e.g. recorded a task token the execution never waits for).
struct Exclusive<'a> {
    _in_process: tokio::sync::MutexGuard<'a, ()>,
    _across_processes: Option<std::fs::File>,
}

/// The local Step Functions engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Loaded {
    record: ExecutionRecord,
    def: Arc<Definition>,
    state: ExecState,
    runner: Runner,
}

/// Applies a callback outcome to the frame at a path.
type CallbackApply<'a> = dyn Fn(&mut Runner, &Definition, &mut Frame, &[usize]) + Sync + 'a;

/// Work queue of executions to drive, plus the terminal ones seen.
#[derive(Default)]
struct Queue {
    pending: VecDeque<String>,
    completed: Vec<String>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 80
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c))
}

/// What an EXPRESS machine may not use: the `.waitForTaskToken` and `.sync` integration
/// patterns (the service refuses both for Express workflows).
fn express_problems(def: &Definition) -> Vec<ValidationError> {
    let mut problems = Vec::new();
    for (state, resource) in def.task_resources() {
        if resource.ends_with(".waitForTaskToken")
            || resource.ends_with(".sync")
            || resource.ends_with(".sync:2")
        {
            problems.push(ValidationError {
                state: Some(state.to_string()),
                field: "Resource".into(),
                message: format!(
                    "Express state machines do not support the integration pattern of \"{resource}\" (.waitForTaskToken and .sync need a STANDARD state machine)"
                ),
            });
        }
    }
    problems
}

fn secs(n: u64) -> Duration {
    Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX / 1_000_000))
}

impl Engine {
    /// Builds an engine over a store, handler registry and clock.
    pub fn new(
        store: Arc<dyn ExecutionStore>,
        registry: HandlerRegistry,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Self {
        Engine {
            inner: Arc::new(Inner {
                store,
                registry,
                clock,
                config,
                lock: tokio::sync::Mutex::new(()),
                defs: Mutex::new(HashMap::new()),
                task_override: std::sync::RwLock::new(None),
            }),
        }
    }

    /// Installs (or with `None` removes) what answers tasks before their handlers, e.g. a
    /// Step Functions Local mock configuration (`service::MockConfig`).
    pub fn set_task_override(&self, o: Option<Arc<dyn task::TaskOverride>>) {
        if let Ok(mut g) = self.inner.task_override.write() {
            *g = o;
        }
    }

    fn task_override(&self) -> Option<Arc<dyn task::TaskOverride>> {
        self.inner.task_override.read().ok().and_then(|g| g.clone())
    }

    /// The task handlers.
    pub fn registry(&self) -> &HandlerRegistry {
        &self.inner.registry
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ExecutionStore> {
        &self.inner.store
    }

    /// The clock's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The ARN a state machine named `name` gets.
    pub fn state_machine_arn(name: &str) -> String {
        format!("arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stateMachine:{name}")
    }

    /// Creates or updates a state machine (validating it) and returns its ARN. A new machine is
    /// STANDARD; an update keeps the machine's type.
    pub fn create_state_machine(
        &self,
        name: &str,
        definition_json: &str,
    ) -> Result<String, EngineError> {
        self.put_state_machine(name, definition_json, None)
    }

    /// Creates a state machine of a type (or updates one, which keeps the type it has) and
    /// returns its ARN. An EXPRESS machine may not use the `.waitForTaskToken` or `.sync`
    /// integration patterns, as the service refuses them for Express workflows.
    pub fn create_state_machine_of_type(
        &self,
        name: &str,
        definition_json: &str,
        kind: StateMachineType,
    ) -> Result<String, EngineError> {
        self.put_state_machine(name, definition_json, Some(kind))
    }

    /// Deletes a state machine. Its executions are kept and running ones carry on with the
    /// definition they started with; starting another is `StateMachineDoesNotExist`.
    pub fn delete_state_machine(&self, arn: &str) -> Result<(), EngineError> {
        let sm = self.find_state_machine(arn)?;
        self.inner.store.delete_state_machine(&sm.arn)?;
        tracing::info!(state_machine = %sm.arn, "state machine deleted");
        Ok(())
    }

    fn put_state_machine(
        &self,
        name: &str,
        definition_json: &str,
        kind: Option<StateMachineType>,
    ) -> Result<String, EngineError> {
        if !valid_name(name) {
            return Err(EngineError::InvalidName(format!(
                "invalid state machine name \"{name}\""
            )));
        }
        let def = Definition::parse(definition_json).map_err(|e| {
            EngineError::InvalidDefinition(vec![ValidationError {
                state: e.state.clone(),
                field: e.field.clone().unwrap_or_default(),
                message: e.message.clone(),
            }])
        })?;
        let problems = validate::validate(&def);
        if !problems.is_empty() {
            return Err(EngineError::InvalidDefinition(problems));
        }
        let arn = Self::state_machine_arn(name);
        let now = self.inner.clock.now();
        let existing = self.inner.store.get_state_machine(&arn)?;
        let created_at = existing.as_ref().map_or(now, |r| r.created_at);
        let kind = existing
            .as_ref()
            .map(|r| r.kind)
            .or(kind)
            .unwrap_or_default();
        if kind == StateMachineType::Express {
            let problems = express_problems(&def);
            if !problems.is_empty() {
                return Err(EngineError::InvalidDefinition(problems));
            }
        }
        self.inner.store.put_state_machine(&StateMachineRecord {
            arn: arn.clone(),
            name: name.to_string(),
            definition: definition_json.to_string(),
            created_at,
            updated_at: now,
            kind,
        })?;
        self.cache_definition(definition_json, Arc::new(def));
        Ok(arn)
    }

    /// Lists stored state machines.
    pub fn list_state_machines(&self) -> Result<Vec<StateMachineRecord>, EngineError> {
        Ok(self.inner.store.list_state_machines()?)
    }

    fn cache_definition(&self, text: &str, def: Arc<Definition>) {
        if let Ok(mut g) = self.inner.defs.lock() {
            if g.len() > 64 {
                g.clear();
            }
            g.insert(text.to_string(), def);
        }
    }

    fn definition(&self, text: &str) -> Result<Arc<Definition>, EngineError> {
        if let Ok(g) = self.inner.defs.lock() {
            if let Some(d) = g.get(text) {
                return Ok(d.clone());
            }
        }
        let def = Arc::new(Definition::parse(text).map_err(|e| {
            EngineError::Store(StoreError::Corrupt(format!(
                "stored definition does not parse: {e}"
            )))
        })?);
        self.cache_definition(text, def.clone());
        Ok(def)
    }

    fn find_state_machine(&self, arn_or_name: &str) -> Result<StateMachineRecord, EngineError> {
        if let Some(r) = self.inner.store.get_state_machine(arn_or_name)? {
            return Ok(r);
        }
        // Accept a real AWS ARN or a bare name for a machine stored under the local ARN.
        let name = match arn_or_name.find(":stateMachine:") {
            Some(i) => arn_or_name[i + ":stateMachine:".len()..]
                .split(':')
                .next()
                .unwrap_or(""),
            None if !arn_or_name.starts_with("arn:") => arn_or_name,
            None => "",
        };
        if !name.is_empty() {
            if let Some(r) = self
                .inner
                .store
                .get_state_machine(&Self::state_machine_arn(name))?
            {
                return Ok(r);
            }
        }
        Err(EngineError::StateMachineDoesNotExist(format!(
            "State Machine Does Not Exist: '{arn_or_name}'"
        )))
    }

    /// Starts an execution and runs it (and any executions it starts) until each completes or
    /// suspends. Starting a name that is RUNNING with the same input returns that execution.
    pub async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: Option<&str>,
        input: Value,
    ) -> Result<String, EngineError> {
        let _guard = self.exclusive().await?;
        self.inner.clock.refresh()?;
        let (arn, _start, created) = self.create_execution(state_machine_arn, name, input, None)?;
        let mut q = Queue::default();
        if created {
            q.pending.push_back(arn.clone());
        }
        self.drain(&mut q).await?;
        Ok(arn)
    }

    /// `RedriveExecution`: restarts a FAILED, TIMED_OUT or ABORTED execution from the state
    /// where it stopped, with that state's input, keeping its name, input and history (an
    /// `ExecutionRedriven` event is added), then runs it like `start_execution`. Refused
    /// (`ExecutionNotRedrivable`) for other statuses, executions stopped more than 14 days ago,
    /// after 1,000 redrives, and for executions that stopped before the engine kept their
    /// state. In a Map or Parallel state only the iterations and branches that failed or were
    /// aborted run again, each from the state where it stopped.
    pub async fn redrive_execution(&self, arn: &str) -> Result<(), EngineError> {
        let _guard = self.exclusive().await?;
        self.inner.clock.refresh()?;
        let mut ld = self.load(arn)?;
        let status = ld.record.description.status;
        if !matches!(
            status,
            ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted
        ) {
            return Err(EngineError::ExecutionNotRedrivable(format!(
                "Execution '{arn}' is {}: only FAILED, TIMED_OUT or ABORTED executions can be redriven",
                status.as_str()
            )));
        }
        let now = self.inner.clock.now();
        if ld
            .record
            .description
            .stop_date
            .is_some_and(|stopped| stopped + chrono::Duration::days(14) < now)
        {
            return Err(EngineError::ExecutionNotRedrivable(format!(
                "Execution '{arn}' stopped more than 14 days ago"
            )));
        }
        if ld.record.state.is_none() {
            return Err(EngineError::ExecutionNotRedrivable(format!(
                "Execution '{arn}' stopped before this engine kept the state of stopped executions"
            )));
        }
        if ld.state.redrive_count >= 1000 {
            return Err(EngineError::ExecutionNotRedrivable(format!(
                "Execution '{arn}' was redriven 1000 times, the limit"
            )));
        }
        ld.state.redrive_count += 1;
        ld.state.redriven_at = Some(now);
        ld.state.root.prepare_redrive(now);
        ld.runner.now = now;
        ld.runner.emit(
            T::ExecutionRedriven,
            EventDetails {
                name: Some(ld.record.description.name.clone()),
                ..Default::default()
            },
        );
        ld.record.description.status = ExecutionStatus::Running;
        ld.record.description.stop_date = None;
        ld.record.description.error = None;
        ld.record.description.cause = None;
        ld.record.description.output = None;
        self.commit(&mut ld, true)?;
        tracing::info!(execution = %arn, redrive_count = ld.state.redrive_count, "execution redriven");
        let mut q = Queue::default();
        q.pending.push_back(arn.to_string());
        self.drain(&mut q).await?;
        Ok(())
    }

    /// `StopExecution`: ends a RUNNING execution as ABORTED with an optional error and cause
    /// (an `ExecutionAborted` event; its callback tokens are closed, so a late
    /// `SendTaskSuccess` gets `TaskTimedOut`). Returns the stop date. An execution that has
    /// already stopped is left as it is and its stop date returned.
    pub async fn stop_execution(
        &self,
        arn: &str,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> Result<DateTime<Utc>, EngineError> {
        let _guard = self.exclusive().await?;
        self.inner.clock.refresh()?;
        let mut ld = self.load(arn)?;
        if let Some(stopped) = ld.record.description.stop_date {
            return Ok(stopped);
        }
        ld.runner.now = self.inner.clock.now();
        let reason = StateError::new(error.unwrap_or_default(), cause.unwrap_or_default());
        self.finish(&mut ld, ExecutionStatus::Aborted, None, Some(reason));
        self.commit(&mut ld, false)?;
        Ok(ld.runner.now)
    }

    /// Creates an execution row (without running it). Returns (arn, start date, created).
    fn create_execution(
        &self,
        state_machine_arn: &str,
        name: Option<&str>,
        input: Value,
        parent: Option<&str>,
    ) -> Result<(String, DateTime<Utc>, bool), EngineError> {
        let sm = self.find_state_machine(state_machine_arn)?;
        let name = name.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
        if !valid_name(&name) {
            return Err(EngineError::InvalidName(format!(
                "invalid execution name \"{name}\""
            )));
        }
        let arn = format!(
            "arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:execution:{}:{name}",
            sm.name
        );
        if let Some(existing) = self.inner.store.get_execution(&arn)? {
            let existing = existing.description;
            if existing.status == ExecutionStatus::Running && existing.input == input {
                return Ok((arn, existing.start_date, false));
            }
            return Err(EngineError::ExecutionAlreadyExists(format!(
                "Execution Already Exists: '{arn}'"
            )));
        }
        let def = self.definition(&sm.definition)?;
        let now = self.inner.clock.now();
        let state = ExecState {
            root: Frame::new(&def.start_at, input.clone(), now),
            transitions: 0,
            redrive_count: 0,
            redriven_at: None,
        };
        let state_json =
            serde_json::to_string(&state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let started = HistoryEvent {
            id: 1,
            previous_event_id: 0,
            timestamp: now,
            event_type: T::ExecutionStarted,
            details: EventDetails {
                name: Some(name.clone()),
                input: Some(Arc::new(input.clone())),
                resource: Some(sm.arn.clone()),
                ..Default::default()
            },
        };
        let rec = ExecutionRecord {
            description: ExecutionDescription {
                execution_arn: arn.clone(),
                state_machine_arn: sm.arn.clone(),
                name,
                status: ExecutionStatus::Running,
                input,
                output: None,
                error: None,
                cause: None,
                start_date: now,
                stop_date: None,
                parent_execution_arn: parent.map(str::to_string),
            },
            definition: sm.definition.clone(),
            state: Some(state_json),
            version: 1,
            wake_at: None,
            runnable: true,
            event_count: 1,
        };
        match self.inner.store.insert_execution(&rec, &[started]) {
            Ok(()) => {}
            Err(StoreError::AlreadyExists(a)) => {
                return Err(EngineError::ExecutionAlreadyExists(format!(
                    "Execution Already Exists: '{a}'"
                )))
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(execution = %arn, "execution started");
        Ok((arn, now, true))
    }

    fn load(&self, arn: &str) -> Result<Loaded, EngineError> {
        let record = self.inner.store.get_execution(arn)?.ok_or_else(|| {
            EngineError::ExecutionDoesNotExist(format!("Execution Does Not Exist: '{arn}'"))
        })?;
        let def = self.definition(&record.definition)?;
        let state: ExecState = match &record.state {
            Some(s) => serde_json::from_str(s)
                .map_err(|e| StoreError::Corrupt(format!("execution state: {e}")))?,
            None => ExecState {
                root: Frame::new(&def.start_at, Value::Null, record.description.start_date),
                transitions: 0,
                redrive_count: 0,
                redriven_at: None,
            },
        };
        let sm_name = record
            .description
            .state_machine_arn
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string();
        let info = Arc::new(ExecutionInfo {
            id: record.description.execution_arn.clone(),
            name: record.description.name.clone(),
            input: record.description.input.clone(),
            start_time: record.description.start_date,
            role_arn: format!("arn:aws:iam::{LOCAL_ACCOUNT}:role/hitl-local-stepfunctions"),
            state_machine_id: record.description.state_machine_arn.clone(),
            state_machine_name: sm_name,
            redrive_count: state.redrive_count,
        });
        let runner = Runner::new(
            info,
            self.inner.clock.now(),
            record.event_count,
            state.transitions,
        );
        Ok(Loaded {
            record,
            def,
            state,
            runner,
        })
    }

    fn commit(&self, ld: &mut Loaded, runnable: bool) -> Result<(), EngineError> {
        ld.state.transitions = ld.runner.transitions;
        let mut rec = ld.record.clone();
        if rec.description.status == ExecutionStatus::Running {
            rec.state = Some(
                serde_json::to_string(&ld.state).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            );
            let mut wake = ld.state.root.wake().earliest();
            if let Some(t) = ld.def.timeout_seconds {
                let deadline = ld.state.redriven_at.unwrap_or(rec.description.start_date) + secs(t);
                wake = Some(wake.map_or(deadline, |w| w.min(deadline)));
            }
            rec.wake_at = wake;
            rec.runnable = runnable;
        } else {
            // A failed, timed-out or stopped execution keeps its state so that it can be
            // redriven from where it stopped; a succeeded one needs none.
            rec.state = match rec.description.status {
                ExecutionStatus::Succeeded => None,
                _ => Some(
                    serde_json::to_string(&ld.state)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                ),
            };
            rec.wake_at = None;
            rec.runnable = false;
        }
        rec.version += 1;
        rec.event_count = ld.runner.next_event_id - 1;
        let commit = Commit {
            record: rec.clone(),
            expected_version: ld.record.version,
            events: std::mem::take(&mut ld.runner.events),
            tokens: std::mem::take(&mut ld.runner.tokens),
        };
        self.inner.store.commit(commit)?;
        ld.record = rec;
        Ok(())
    }

    /// Ends the execution with a terminal status.
    fn finish(
        &self,
        ld: &mut Loaded,
        status: ExecutionStatus,
        output: Option<Value>,
        error: Option<StateError>,
    ) {
        let root = ld.state.root.clone();
        ld.runner.close_callbacks(&root);
        let (ty, details) = match status {
            ExecutionStatus::Succeeded => (
                T::ExecutionSucceeded,
                EventDetails {
                    output: output.clone().map(Arc::new),
                    ..Default::default()
                },
            ),
            ExecutionStatus::Aborted => (
                T::ExecutionAborted,
                EventDetails {
                    error: error.as_ref().and_then(|e| present(&e.error)),
                    cause: error.as_ref().and_then(|e| present(&e.cause)),
                    ..Default::default()
                },
            ),
            ExecutionStatus::TimedOut => (
                T::ExecutionTimedOut,
                EventDetails {
                    error: error.as_ref().and_then(|e| present(&e.error)),
                    cause: error.as_ref().and_then(|e| present(&e.cause)),
                    ..Default::default()
                },
            ),
            _ => (
                T::ExecutionFailed,
                EventDetails {
                    error: error.as_ref().and_then(|e| present(&e.error)),
                    cause: error.as_ref().and_then(|e| present(&e.cause)),
                    ..Default::default()
                },
            ),
        };
        ld.runner.emit(ty, details);
        ld.record.description.status = status;
        ld.record.description.output = output;
        ld.record.description.error = error.as_ref().and_then(|e| present(&e.error));
        ld.record.description.cause = error.as_ref().and_then(|e| present(&e.cause));
        ld.record.description.stop_date = Some(ld.runner.now);
        tracing::info!(execution = %ld.record.description.execution_arn, status = %status, "execution finished");
    }

    /// Runs the loaded execution until it completes or suspends.
    async fn run_loop(&self, ld: &mut Loaded, q: &mut Queue) -> Result<(), EngineError> {
        let cfg = &self.inner.config;
        loop {
            if ld.record.description.status != ExecutionStatus::Running {
                return Ok(());
            }
            let now = self.inner.clock.now();
            ld.runner.now = now;
            if let Some(t) = ld.def.timeout_seconds {
                if now
                    >= ld
                        .state
                        .redriven_at
                        .unwrap_or(ld.record.description.start_date)
                        + secs(t)
                {
                    self.finish(
                        ld,
                        ExecutionStatus::TimedOut,
                        None,
                        Some(StateError::new(
                            errors::TIMEOUT,
                            "The execution exceeded its TimeoutSeconds",
                        )),
                    );
                    self.commit(ld, false)?;
                    q.completed
                        .push(ld.record.description.execution_arn.clone());
                    return Ok(());
                }
            }
            if ld.runner.transitions > cfg.max_transitions_per_execution {
                self.finish(
                    ld,
                    ExecutionStatus::Failed,
                    None,
                    Some(StateError::runtime(format!(
                        "The execution exceeded the maximum of {} state transitions",
                        cfg.max_transitions_per_execution
                    ))),
                );
                self.commit(ld, false)?;
                q.completed
                    .push(ld.record.description.execution_arn.clone());
                return Ok(());
            }
            let def = ld.def.clone();
            match ld.runner.step(&def, &mut ld.state.root) {
                Step::Progress => {}
                Step::Done => {
                    let phase = std::mem::replace(&mut ld.state.root.phase, Phase::Run);
                    match phase {
                        Phase::Succeeded { output } => {
                            self.finish(ld, ExecutionStatus::Succeeded, Some(output), None)
                        }
                        Phase::Failed { error } => {
                            self.finish(ld, ExecutionStatus::Failed, None, Some(error))
                        }
                        _ => self.finish(
                            ld,
                            ExecutionStatus::Failed,
                            None,
                            Some(StateError::runtime(
                                "execution ended in an unexpected phase",
                            )),
                        ),
                    }
                    self.commit(ld, false)?;
                    q.completed
                        .push(ld.record.description.execution_arn.clone());
                    return Ok(());
                }
                Step::Effect(call) => {
                    if call.callback {
                        // Make the token durable before anyone can be told about it.
                        self.commit(ld, true)?;
                    }
                    let path = call.path.clone();
                    let callback = call.callback;
                    let result = self
                        .perform(*call, &ld.record.description.execution_arn, q)
                        .await;
                    #[cfg(feature = "failpoints")]
                    if callback && fail::eval("engine::after_callback_handler", |_| ()).is_some() {
                        eprintln!("failpoint engine::after_callback_handler: aborting");
                        std::process::abort();
                    }
                    if callback {
                        ld.runner
                            .callback_submitted(&def, &mut ld.state.root, &path, result);
                    } else {
                        ld.runner
                            .complete_task(&def, &mut ld.state.root, &path, result);
                    }
                    self.commit(ld, true)?;
                }
                Step::Idle(wake) => {
                    let mut target = None;
                    if cfg.auto_advance_timers {
                        if let Some(timer) = wake.timer {
                            let exec_deadline = ld
                                .def
                                .timeout_seconds
                                .map(|t| ld.record.description.start_date + secs(t));
                            let blocked = wake.deadline.is_some_and(|d| d <= timer);
                            if !blocked {
                                target = Some(exec_deadline.map_or(timer, |d| d.min(timer)));
                            }
                        }
                    }
                    match target {
                        Some(t) if self.inner.clock.is_virtual() => {
                            let by = t - now;
                            tracing::debug!(execution = %ld.record.description.execution_arn, ms = by.num_milliseconds(), "auto-advancing virtual clock");
                            self.inner.clock.advance(by)?;
                        }
                        Some(t) => {
                            let by = (t - now).to_std().unwrap_or_default();
                            tokio::time::sleep(by).await;
                        }
                        None => {
                            self.commit(ld, false)?;
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    async fn perform(
        &self,
        call: TaskCall,
        execution_arn: &str,
        q: &mut Queue,
    ) -> Result<Value, StateError> {
        let TaskCall {
            resource,
            kind,
            input,
            ctx,
            timeout_seconds,
            callback,
            ..
        } = call;
        if let Some(answer) = self.task_override().and_then(|o| o.answer(&ctx, &resource)) {
            if callback {
                return Err(StateError::runtime(format!(
                    "state \"{}\": a mocked response for a .waitForTaskToken task ({resource}) is not supported by the local engine",
                    ctx.state_name
                )));
            }
            tracing::debug!(execution = %execution_arn, state = %ctx.state_name, resource = %resource, "task answered by the mock configuration");
            return answer.map_err(|f| StateError::new(f.error, f.cause));
        }
        let reg = &self.inner.registry;
        let not_found = |what: &str| {
            StateError::new(
                "Lambda.ResourceNotFoundException",
                format!("No handler is registered for function \"{what}\" (resource {resource}); registered: {:?}", reg.names()),
            )
        };
        let (handler, payload, wrap) = match &kind {
            Resource::LambdaArn { function } => {
                let h = reg
                    .resolve_function(&resource)
                    .or_else(|| reg.resolve_function(function))
                    .ok_or_else(|| not_found(function))?;
                (h.1, input, false)
            }
            Resource::LambdaInvoke { .. } => {
                let function = input
                    .get("FunctionName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| StateError::runtime(format!("{resource} requires Parameters.FunctionName (a string)")))?
                    .to_string();
                let h = reg.resolve_function(&function).ok_or_else(|| not_found(&function))?;
                let payload = input.get("Payload").cloned().unwrap_or_else(|| json!({}));
                (h.1, payload, !callback)
            }
            Resource::StartExecution { sync: true, .. } => {
                return Err(StateError::runtime(format!(
                    "{resource}: .sync is not supported by the local engine; use arn:aws:states:::states:startExecution"
                )))
            }
            Resource::StartExecution { .. } => {
                let sm = input
                    .get("StateMachineArn")
                    .and_then(Value::as_str)
                    .ok_or_else(|| StateError::runtime("states:startExecution requires Parameters.StateMachineArn"))?;
                let child_input = match input.get("Input") {
                    None => json!({}),
                    Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| {
                        StateError::new("StepFunctions.InvalidExecutionInputException", format!("Input is not valid JSON: {e}"))
                    })?,
                    Some(v) => v.clone(),
                };
                let name = input.get("Name").and_then(Value::as_str);
                return match self.create_execution(sm, name, child_input, Some(execution_arn)) {
                    Ok((arn, start, created)) => {
                        if created {
                            q.pending.push_back(arn.clone());
                        }
                        Ok(json!({ "ExecutionArn": arn, "StartDate": start.timestamp_millis() }))
                    }
                    Err(EngineError::ExecutionAlreadyExists(m)) => {
                        Err(StateError::new("StepFunctions.ExecutionAlreadyExistsException", m))
                    }
                    Err(EngineError::StateMachineDoesNotExist(m)) => {
                        Err(StateError::new("StepFunctions.StateMachineDoesNotExistException", m))
                    }
                    Err(EngineError::InvalidName(m)) => Err(StateError::new("StepFunctions.InvalidNameException", m)),
                    Err(e) => Err(StateError::new("StepFunctions.SdkClientException", e.to_string())),
                };
            }
            Resource::Service { sync: true, .. } => {
                return Err(StateError::runtime(format!(
                    "{resource}: .sync integrations are not supported by the local engine"
                )))
            }
            Resource::Service { service_action, .. } => {
                let base = task::integration_parts(&resource).map_or(resource.as_str(), |(b, _)| b);
                let full = format!("arn:aws:states:::{base}");
                let h = reg
                    .get(&full)
                    .or_else(|| reg.get(service_action))
                    .ok_or_else(|| {
                        StateError::runtime(format!(
                            "Resource \"{resource}\" is not supported by the local engine: register a handler named \"{service_action}\""
                        ))
                    })?;
                (h, input, false)
            }
            Resource::Activity { arn } => {
                let h = reg.get(arn).ok_or_else(|| {
                    StateError::runtime(format!("Activity \"{arn}\" has no registered handler"))
                })?;
                (h, input, false)
            }
            Resource::Unknown => {
                return Err(StateError::runtime(format!(
                    "Resource \"{resource}\" is not supported by the local engine (supported: Lambda function ARNs, arn:aws:states:::lambda:invoke[.waitForTaskToken], arn:aws:states:::states:startExecution, and registered service integrations)"
                )))
            }
        };
        tracing::debug!(execution = %execution_arn, state = %ctx.state_name, resource = %resource, attempt = ctx.attempt, "invoking task handler");
        let fut = handler.invoke(payload, ctx);
        let out = match (timeout_seconds, callback) {
            (Some(t), false) => {
                match tokio::time::timeout(std::time::Duration::from_secs(t), fut).await {
                    Ok(r) => r,
                    Err(_) => {
                        return Err(StateError::new(
                            errors::TIMEOUT,
                            format!("Task timed out after {t} seconds"),
                        ))
                    }
                }
            }
            _ => fut.await,
        };
        match out {
            Ok(v) if wrap => Ok(task::lambda_invoke_envelope(v)),
            Ok(v) => Ok(v),
            Err(f) => Err(StateError::new(f.error, f.cause)),
        }
    }

    async fn drain(&self, q: &mut Queue) -> Result<(), EngineError> {
        while let Some(arn) = q.pending.pop_front() {
            let mut ld = self.load(&arn)?;
            match self.run_loop(&mut ld, q).await {
                // Another process (sharing the data directory) advanced it first: its work is
                // committed and it carries on; nothing failed.
                Err(EngineError::Store(StoreError::Conflict(a))) => {
                    tracing::debug!(execution = %a, "advanced concurrently by another process");
                }
                other => other?,
            }
        }
        Ok(())
    }

    async fn deliver(&self, token: &str, apply: &CallbackApply<'_>) -> Result<(), EngineError> {
        if token.is_empty() || token.len() > 1024 {
            return Err(EngineError::InvalidToken(
                "Invalid Token: malformed task token".into(),
            ));
        }
        let hash = step::token_hash(token);
        let _guard = self.exclusive().await?;
        self.inner.clock.refresh()?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let tok = self.inner.store.get_token(&hash)?.ok_or_else(|| {
                EngineError::InvalidToken("Invalid Token: unknown task token".into())
            })?;
            if tok.status != TokenStatus::Pending {
                return Err(EngineError::TaskTimedOut(
                    "Task Timed Out: the task token was already used or its task has closed".into(),
                ));
            }
            let mut ld = self.load(&tok.execution_arn)?;
            let closed = || {
                EngineError::TaskTimedOut(
                    "Task Timed Out: the task for this token is no longer waiting".into(),
                )
            };
            if ld.record.description.status != ExecutionStatus::Running {
                return Err(closed());
            }
            let Some(path) = ld.state.root.find_callback(&hash) else {
                return Err(closed());
            };
            let mut q = Queue::default();
            // A deadline that has already passed wins over a late callback.
            let overdue = {
                let now = self.inner.clock.now();
                let mut overdue = false;
                ld.state.root.for_each_callback(&mut |_, cb| {
                    if cb.token_hash == hash && cb.deadline().is_some_and(|d| d <= now) {
                        overdue = true;
                    }
                });
                overdue
            };
            if overdue {
                self.run_loop(&mut ld, &mut q).await?;
                self.drain(&mut q).await?;
                return Err(closed());
            }
            ld.runner.now = self.inner.clock.now();
            let def = ld.def.clone();
            apply(&mut ld.runner, &def, &mut ld.state.root, &path);
            match self.run_loop(&mut ld, &mut q).await {
                Err(EngineError::Store(StoreError::Conflict(_))) if attempts < 5 => continue,
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            self.drain(&mut q).await?;
            return Ok(());
        }
    }

    async fn exclusive(&self) -> Result<Exclusive<'_>, EngineError> {
        let in_process = self.inner.lock.lock().await;
        let across = match self.inner.store.process_lock_path() {
            None => None,
            Some(path) => Some(
                tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
                    let mut options = std::fs::OpenOptions::new();
                    options.create(true).truncate(false).write(true);
                    #[cfg(unix)]
                    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                    let file = options.open(&path)?;
                    file.lock()?;
                    Ok(file)
                })
                .await
                .map_err(|e| StoreError::Io(format!("engine lock task: {e}")))?
                .map_err(|e| StoreError::Io(format!("engine lock file: {e}")))?,
            ),
        };
        Ok(Exclusive {
            _in_process: in_process,
            _across_processes: across,
        })
    }

    /// Completes a `.waitForTaskToken` task with `output`.
    pub async fn send_task_success(&self, token: &str, output: Value) -> Result<(), EngineError> {
        let apply = move |r: &mut Runner, d: &Definition, root: &mut Frame, p: &[usize]| {
            r.complete_task(d, root, p, Ok(output.clone()));
        };
        self.deliver(token, &apply).await
    }

    /// Fails a `.waitForTaskToken` task with `error` and `cause`.
    pub async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), EngineError> {
        let e = StateError::new(error, cause);
        let apply = move |r: &mut Runner, d: &Definition, root: &mut Frame, p: &[usize]| {
            r.complete_task(d, root, p, Err(e.clone()));
        };
        self.deliver(token, &apply).await
    }

    /// Records a heartbeat for a `.waitForTaskToken` task (resets its heartbeat deadline).
    pub async fn send_task_heartbeat(&self, token: &str) -> Result<(), EngineError> {
        let apply = |r: &mut Runner, d: &Definition, root: &mut Frame, p: &[usize]| {
            r.heartbeat(d, root, p);
        };
        self.deliver(token, &apply).await
    }

    /// Moves the virtual clock forward and runs everything that became due.
    pub async fn advance_time(&self, by: Duration) -> Result<AdvanceReport, EngineError> {
        let _guard = self.exclusive().await?;
        self.inner.clock.refresh()?;
        if !self.inner.clock.advance(by)? {
            return Err(EngineError::ClockNotVirtual);
        }
        self.run_due_locked().await
    }

    /// When the next timer later than `after` of a running execution is due (a Wait state, a
    /// retry's back-off, a task's timeout or heartbeat deadline, an execution's timeout), so a
    /// caller moving the virtual clock can stop there and let it fire at its own time. `None`:
    /// no running execution waits for a later time. Instants are kept in whole milliseconds
    /// (rounded down).
    pub fn next_timer_after(
        &self,
        after: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, EngineError> {
        Ok(self.inner.store.next_wake_after(after)?)
    }

    /// Runs whatever is due at the current clock (timers, deadlines, interrupted runs).
    pub async fn run_due(&self) -> Result<(), EngineError> {
        let _guard = self.exclusive().await?;
        self.inner.clock.refresh()?;
        self.run_due_locked().await.map(|_| ())
    }

    /// Like [`Engine::run_due`] but reports what ran.
    pub async fn run_due_report(&self) -> Result<AdvanceReport, EngineError> {
        let _guard = self.exclusive().await?;
        self.inner.clock.refresh()?;
        self.run_due_locked().await
    }

    async fn run_due_locked(&self) -> Result<AdvanceReport, EngineError> {
        let now = self.inner.clock.now();
        let due = self.inner.store.due_executions(now)?;
        let mut q = Queue::default();
        let mut report = AdvanceReport::default();
        for arn in due {
            let mut ld = self.load(&arn)?;
            report.resumed.push(arn.clone());
            match self.run_loop(&mut ld, &mut q).await {
                Err(EngineError::Store(StoreError::Conflict(a))) => {
                    tracing::warn!(execution = %a, "skipped: advanced concurrently by another process");
                }
                other => other?,
            }
        }
        self.drain(&mut q).await?;
        report.completed = q.completed;
        report.now = Some(self.inner.clock.now());
        Ok(report)
    }

    /// Status, input, output and error of an execution.
    pub fn describe_execution(&self, arn: &str) -> Result<ExecutionDescription, EngineError> {
        let r = self.inner.store.get_execution(arn)?.ok_or_else(|| {
            EngineError::ExecutionDoesNotExist(format!("Execution Does Not Exist: '{arn}'"))
        })?;
        Ok(r.description)
    }

    /// The execution's history events, oldest first.
    pub fn get_execution_history(&self, arn: &str) -> Result<Vec<HistoryEvent>, EngineError> {
        if self.inner.store.get_execution(arn)?.is_none() {
            return Err(EngineError::ExecutionDoesNotExist(format!(
                "Execution Does Not Exist: '{arn}'"
            )));
        }
        Ok(self.inner.store.history(arn)?)
    }

    /// Executions, newest first, optionally filtered.
    pub fn list_executions(
        &self,
        state_machine_arn: Option<&str>,
        status: Option<ExecutionStatus>,
    ) -> Result<Vec<ExecutionDescription>, EngineError> {
        let sm = match state_machine_arn {
            Some(a) => Some(self.find_state_machine(a)?.arn),
            None => None,
        };
        Ok(self
            .inner
            .store
            .list_executions(sm.as_deref(), status)?
            .into_iter()
            .map(|r| r.description)
            .collect())
    }

    /// Callback tasks of an execution that are waiting for a token.
    pub fn pending_callbacks(
        &self,
        execution_arn: &str,
    ) -> Result<Vec<PendingCallback>, EngineError> {
        let ld = self.load(execution_arn)?;
        let mut out = Vec::new();
        if ld.record.description.status != ExecutionStatus::Running {
            return Ok(out);
        }
        ld.state.root.for_each_callback(&mut |name, cb| {
            out.push(PendingCallback {
                state_name: name.to_string(),
                resource: cb.resource.clone(),
                deadline: cb.deadline(),
                timeout_at: cb.timeout_at,
                heartbeat_at: cb.heartbeat_at,
                created_at: cb.created_at,
            });
        });
        Ok(out)
    }
}
