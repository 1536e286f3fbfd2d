//! Durable storage of state machines, executions, task tokens, history and the virtual clock.
//!
//! [`SqliteExecutionStore`] is safe to open from several processes at once (WAL journal,
//! `busy_timeout`, `BEGIN IMMEDIATE` transactions); every execution row carries a version
//! number so two processes cannot both advance one execution ([`StoreError::Conflict`]).
//! Pending timers are indexed by each execution's `wake_at` column.
//! [`MemoryExecutionStore`] keeps everything in process memory.

use crate::history::{EventDetails, HistoryEvent, HistoryEventType};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer advanced the execution first.
    #[error("execution {0} was modified concurrently")]
    Conflict(String),
    /// A row with this key already exists.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// SQLite error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Stored data could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// A lock was poisoned.
    #[error("store lock poisoned")]
    Poisoned,
    /// The cross-process lock file could not be taken.
    #[error("{0}")]
    Io(String),
}

/// Execution status, as in `DescribeExecution`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    /// Still running (possibly suspended).
    Running,
    /// Finished successfully.
    Succeeded,
    /// Failed.
    Failed,
    /// Exceeded the state machine's TimeoutSeconds.
    TimedOut,
    /// Stopped.
    Aborted,
}

impl ExecutionStatus {
    /// The AWS name (`RUNNING`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }

    /// Parses an AWS status name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "RUNNING" => ExecutionStatus::Running,
            "SUCCEEDED" => ExecutionStatus::Succeeded,
            "FAILED" => ExecutionStatus::Failed,
            "TIMED_OUT" => ExecutionStatus::TimedOut,
            "ABORTED" => ExecutionStatus::Aborted,
            _ => return None,
        })
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state machine's type (`CreateStateMachine`'s `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StateMachineType {
    /// Executions run asynchronously and are described and listed (the default).
    #[default]
    Standard,
    /// Executions may also be run synchronously (`StartSyncExecution`); no callback tasks.
    Express,
}

impl StateMachineType {
    /// The AWS name (`STANDARD`, `EXPRESS`).
    pub fn as_str(self) -> &'static str {
        match self {
            StateMachineType::Standard => "STANDARD",
            StateMachineType::Express => "EXPRESS",
        }
    }

    /// Parses an AWS type name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "STANDARD" => Some(StateMachineType::Standard),
            "EXPRESS" => Some(StateMachineType::Express),
            _ => None,
        }
    }
}

/// A stored state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineRecord {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// Definition JSON.
    pub definition: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update time.
    pub updated_at: DateTime<Utc>,
    /// STANDARD or EXPRESS (fixed at creation).
    pub kind: StateMachineType,
}

/// `DescribeExecution` output.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExecutionDescription {
    /// Execution ARN.
    pub execution_arn: String,
    /// State machine ARN.
    pub state_machine_arn: String,
    /// Name.
    pub name: String,
    /// Status.
    pub status: ExecutionStatus,
    /// Input.
    pub input: Value,
    /// Output (SUCCEEDED only).
    pub output: Option<Value>,
    /// Error (FAILED/TIMED_OUT).
    pub error: Option<String>,
    /// Cause (FAILED/TIMED_OUT).
    pub cause: Option<String>,
    /// Start date.
    pub start_date: DateTime<Utc>,
    /// Stop date.
    pub stop_date: Option<DateTime<Utc>>,
    /// The execution that started this one via `states:startExecution`.
    pub parent_execution_arn: Option<String>,
}

/// A stored execution: what `DescribeExecution` shows, plus what the engine keeps to run it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRecord {
    /// ARN, state machine, name, status, input, output, error, cause, dates and parent.
    pub description: ExecutionDescription,
    /// The definition the execution runs (snapshotted at start).
    pub definition: String,
    /// Serialized engine state (None once finished).
    pub state: Option<String>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Earliest timer or deadline.
    pub wake_at: Option<DateTime<Utc>>,
    /// Whether work is runnable right now (an interrupted run).
    pub runnable: bool,
    /// Number of history events written so far.
    pub event_count: u64,
}

/// Task token status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    /// Waiting for a callback.
    Pending,
    /// A callback was delivered.
    Completed,
    /// The task timed out (or heartbeat timed out).
    TimedOut,
    /// The task was closed for another reason (branch aborted, execution ended).
    Closed,
}

impl TokenStatus {
    fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Pending => "PENDING",
            TokenStatus::Completed => "COMPLETED",
            TokenStatus::TimedOut => "TIMED_OUT",
            TokenStatus::Closed => "CLOSED",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PENDING" => TokenStatus::Pending,
            "COMPLETED" => TokenStatus::Completed,
            "TIMED_OUT" => TokenStatus::TimedOut,
            "CLOSED" => TokenStatus::Closed,
            _ => return None,
        })
    }
}

/// A task token (stored by hash; the token itself is never persisted).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// Owning execution.
    pub execution_arn: String,
    /// Task state name.
    pub state_name: String,
    /// Task resource.
    pub resource: String,
    /// Status.
    pub status: TokenStatus,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Timeout deadline.
    pub timeout_at: Option<DateTime<Utc>>,
    /// Heartbeat deadline.
    pub heartbeat_at: Option<DateTime<Utc>>,
}

/// An atomic update of one execution: new row (version = expected + 1), history, tokens.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The updated row; `record.version` must be `expected_version + 1`.
    pub record: ExecutionRecord,
    /// The version the writer loaded.
    pub expected_version: i64,
    /// New history events.
    pub events: Vec<HistoryEvent>,
    /// Tokens to insert or update.
    pub tokens: Vec<TokenRecord>,
}

/// Storage used by the engine. Implementations must be safe to share across threads.
pub trait ExecutionStore: Send + Sync {
    /// A file whose exclusive lock serialises engine steps across processes sharing this
    /// store (`None`: one process only).
    fn process_lock_path(&self) -> Option<std::path::PathBuf> {
        None
    }
    /// Inserts or replaces a state machine.
    fn put_state_machine(&self, sm: &StateMachineRecord) -> Result<(), StoreError>;
    /// Fetches a state machine.
    fn get_state_machine(&self, arn: &str) -> Result<Option<StateMachineRecord>, StoreError>;
    /// Lists state machines.
    fn list_state_machines(&self) -> Result<Vec<StateMachineRecord>, StoreError>;
    /// Deletes a state machine; `false` if there was none. Its executions are kept (each has
    /// its own copy of the definition), so running ones carry on.
    fn delete_state_machine(&self, arn: &str) -> Result<bool, StoreError>;
    /// Inserts a new execution with its first events; `AlreadyExists` if the ARN is taken.
    fn insert_execution(
        &self,
        rec: &ExecutionRecord,
        events: &[HistoryEvent],
    ) -> Result<(), StoreError>;
    /// Fetches an execution.
    fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError>;
    /// Lists executions, newest first.
    fn list_executions(
        &self,
        state_machine_arn: Option<&str>,
        status: Option<ExecutionStatus>,
    ) -> Result<Vec<ExecutionRecord>, StoreError>;
    /// Applies a commit if the stored version still equals `expected_version`.
    fn commit(&self, c: Commit) -> Result<(), StoreError>;
    /// Running executions that are runnable or whose `wake_at` is at or before `now`.
    fn due_executions(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError>;
    /// The earliest `wake_at` later than `after` of the running executions: when the next
    /// timer (a Wait state, a retry's back-off, a task's timeout or heartbeat deadline, an
    /// execution's timeout) is due. `None` when no running execution waits for a later time.
    fn next_wake_after(&self, after: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Looks up a token by hash.
    fn get_token(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// Full history of an execution, in order.
    fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>, StoreError>;
    /// The virtual clock offset in milliseconds.
    fn clock_offset_ms(&self) -> Result<i64, StoreError>;
    /// Atomically adds `delta_ms` to the clock offset and returns the new offset.
    fn add_clock_offset_ms(&self, delta_ms: i64) -> Result<i64, StoreError>;
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp {s}: {e}")))
}

fn parse_opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    s.as_deref().map(parse_ts).transpose()
}

fn parse_json(s: &str) -> Result<Value, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// In-memory store
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct MemInner {
    machines: BTreeMap<String, StateMachineRecord>,
    executions: HashMap<String, ExecutionRecord>,
    order: Vec<String>,
    history: HashMap<String, Vec<HistoryEvent>>,
    tokens: HashMap<String, TokenRecord>,
    clock_offset_ms: i64,
}

/// An in-memory [`ExecutionStore`] (tests, benchmarks, one-shot runs).
#[derive(Default)]
pub struct MemoryExecutionStore {
    inner: Mutex<MemInner>,
}

impl MemoryExecutionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemInner>, StoreError> {
        self.inner.lock().map_err(|_| StoreError::Poisoned)
    }
}

impl ExecutionStore for MemoryExecutionStore {
    fn put_state_machine(&self, sm: &StateMachineRecord) -> Result<(), StoreError> {
        self.lock()?.machines.insert(sm.arn.clone(), sm.clone());
        Ok(())
    }

    fn get_state_machine(&self, arn: &str) -> Result<Option<StateMachineRecord>, StoreError> {
        Ok(self.lock()?.machines.get(arn).cloned())
    }

    fn list_state_machines(&self) -> Result<Vec<StateMachineRecord>, StoreError> {
        Ok(self.lock()?.machines.values().cloned().collect())
    }

    fn delete_state_machine(&self, arn: &str) -> Result<bool, StoreError> {
        Ok(self.lock()?.machines.remove(arn).is_some())
    }

    fn insert_execution(
        &self,
        rec: &ExecutionRecord,
        events: &[HistoryEvent],
    ) -> Result<(), StoreError> {
        let mut g = self.lock()?;
        if g.executions.contains_key(&rec.description.execution_arn) {
            return Err(StoreError::AlreadyExists(
                rec.description.execution_arn.clone(),
            ));
        }
        g.executions
            .insert(rec.description.execution_arn.clone(), rec.clone());
        g.order.push(rec.description.execution_arn.clone());
        g.history
            .insert(rec.description.execution_arn.clone(), events.to_vec());
        Ok(())
    }

    fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        Ok(self.lock()?.executions.get(arn).cloned())
    }

    fn list_executions(
        &self,
        state_machine_arn: Option<&str>,
        status: Option<ExecutionStatus>,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        let g = self.lock()?;
        Ok(g.order
            .iter()
            .rev()
            .filter_map(|a| g.executions.get(a))
            .filter(|r| {
                state_machine_arn.is_none()
                    || state_machine_arn == Some(r.description.state_machine_arn.as_str())
            })
            .filter(|r| status.is_none() || status == Some(r.description.status))
            .cloned()
            .collect())
    }

    fn commit(&self, c: Commit) -> Result<(), StoreError> {
        let mut g = self.lock()?;
        let cur = g
            .executions
            .get(&c.record.description.execution_arn)
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "no execution {}",
                    c.record.description.execution_arn
                ))
            })?;
        if cur.version != c.expected_version {
            return Err(StoreError::Conflict(
                c.record.description.execution_arn.clone(),
            ));
        }
        let arn = c.record.description.execution_arn.clone();
        g.history.entry(arn.clone()).or_default().extend(c.events);
        for t in c.tokens {
            g.tokens.insert(t.token_hash.clone(), t);
        }
        g.executions.insert(arn, c.record);
        Ok(())
    }

    fn due_executions(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let g = self.lock()?;
        Ok(g.order
            .iter()
            .filter_map(|a| g.executions.get(a))
            .filter(|r| {
                r.description.status == ExecutionStatus::Running
                    && (r.runnable || r.wake_at.is_some_and(|w| w <= now))
            })
            .map(|r| r.description.execution_arn.clone())
            .collect())
    }

    fn next_wake_after(&self, after: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        let g = self.lock()?;
        Ok(g.executions
            .values()
            .filter(|r| r.description.status == ExecutionStatus::Running)
            .filter_map(|r| r.wake_at)
            .filter(|w| *w > after)
            .min())
    }

    fn get_token(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self.lock()?.tokens.get(token_hash).cloned())
    }

    fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        Ok(self.lock()?.history.get(arn).cloned().unwrap_or_default())
    }

    fn clock_offset_ms(&self) -> Result<i64, StoreError> {
        Ok(self.lock()?.clock_offset_ms)
    }

    fn add_clock_offset_ms(&self, delta_ms: i64) -> Result<i64, StoreError> {
        let mut g = self.lock()?;
        g.clock_offset_ms += delta_ms;
        Ok(g.clock_offset_ms)
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite store
// ---------------------------------------------------------------------------------------------

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS state_machines (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT 'STANDARD'
);
CREATE TABLE IF NOT EXISTS executions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    arn TEXT NOT NULL UNIQUE,
    state_machine_arn TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT,
    error TEXT,
    cause TEXT,
    start_date TEXT NOT NULL,
    stop_date TEXT,
    definition TEXT NOT NULL,
    state TEXT,
    version INTEGER NOT NULL,
    wake_at TEXT,
    runnable INTEGER NOT NULL DEFAULT 0,
    event_count INTEGER NOT NULL DEFAULT 0,
    parent_arn TEXT
);
CREATE INDEX IF NOT EXISTS executions_due ON executions (status, wake_at);
CREATE INDEX IF NOT EXISTS executions_machine ON executions (state_machine_arn, status);
CREATE TABLE IF NOT EXISTS task_tokens (
    token_hash TEXT PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    state_name TEXT NOT NULL,
    resource TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    timeout_at TEXT,
    heartbeat_at TEXT
);
CREATE INDEX IF NOT EXISTS task_tokens_execution ON task_tokens (execution_arn, status);
CREATE TABLE IF NOT EXISTS history_events (
    execution_arn TEXT NOT NULL,
    id INTEGER NOT NULL,
    previous_event_id INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    type TEXT NOT NULL,
    details TEXT NOT NULL,
    PRIMARY KEY (execution_arn, id)
);
CREATE TABLE IF NOT EXISTS virtual_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    offset_ms INTEGER NOT NULL
);
INSERT OR IGNORE INTO virtual_clock (id, offset_ms) VALUES (1, 0);
"#;

/// A SQLite-backed [`ExecutionStore`], safe to share between processes.
pub struct SqliteExecutionStore {
    conn: Mutex<rusqlite::Connection>,
    lock_path: Option<std::path::PathBuf>,
}

const EXEC_COLS: &str = "arn, state_machine_arn, name, status, input, output, error, cause, \
    start_date, stop_date, definition, state, version, wake_at, runnable, event_count, parent_arn";

impl SqliteExecutionStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let conn = rusqlite::Connection::open(path.as_ref())?;
        let mut store = Self::init(conn)?;
        let mut lock = path.as_ref().as_os_str().to_owned();
        lock.push(".lock");
        store.lock_path = Some(lock.into());
        Ok(store)
    }

    /// An in-memory SQLite database (single process).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(rusqlite::Connection::open_in_memory()?)
    }

    fn init(conn: rusqlite::Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Several processes may open a new data directory at once; setting it up can meet a
        // lock the busy timeout does not cover: try again briefly.
        let mut attempt = 0u64;
        loop {
            match Self::set_up(&conn) {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if attempt < 50
                        && matches!(
                            e.code,
                            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                        ) =>
                {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20 * attempt));
                }
                Err(e) => return Err(e.into()),
                Ok(()) => {
                    return Ok(Self {
                        conn: Mutex::new(conn),
                        lock_path: None,
                    })
                }
            }
        }
    }

    fn set_up(conn: &rusqlite::Connection) -> Result<(), rusqlite::Error> {
        // journal_mode returns a row; query it rather than execute.
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        // FULL: an execution's progress past a delivered decision survives a power loss too
        // (the decision's own record is FULL in the workflow store).
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
        conn.execute_batch(SCHEMA)?;
        // Data directories from before state machine types: every machine is STANDARD.
        let has_type: i64 = conn.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('state_machines') WHERE name = 'type'",
            [],
            |r| r.get(0),
        )?;
        if has_type == 0 {
            conn.execute_batch(
                "ALTER TABLE state_machines ADD COLUMN type TEXT NOT NULL DEFAULT 'STANDARD'",
            )?;
        }
        Ok(())
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, rusqlite::Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }

    fn row_to_exec(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawExec> {
        Ok(RawExec {
            arn: r.get(0)?,
            state_machine_arn: r.get(1)?,
            name: r.get(2)?,
            status: r.get(3)?,
            input: r.get(4)?,
            output: r.get(5)?,
            error: r.get(6)?,
            cause: r.get(7)?,
            start_date: r.get(8)?,
            stop_date: r.get(9)?,
            definition: r.get(10)?,
            state: r.get(11)?,
            version: r.get(12)?,
            wake_at: r.get(13)?,
            runnable: r.get(14)?,
            event_count: r.get(15)?,
            parent_arn: r.get(16)?,
        })
    }

    fn insert_events(
        tx: &rusqlite::Transaction<'_>,
        arn: &str,
        events: &[HistoryEvent],
    ) -> Result<(), StoreError> {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO history_events (execution_arn, id, previous_event_id, timestamp, type, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for e in events {
            let details = serde_json::to_string(&e.details)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            stmt.execute(params![
                arn,
                e.id as i64,
                e.previous_event_id as i64,
                ts(e.timestamp),
                e.event_type.as_str(),
                details
            ])?;
        }
        Ok(())
    }
}

/// The columns of a `state_machines` row, in the order [`state_machine_row`] reads them.
const SM_COLS: &str = "arn, name, definition, created_at, updated_at, type";

/// A `state_machines` row as stored: arn, name, definition, created_at, updated_at, type.
fn state_machine_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<[String; 6]> {
    Ok([
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ])
}

fn state_machine_record(
    [arn, name, definition, created_at, updated_at, kind]: [String; 6],
) -> Result<StateMachineRecord, StoreError> {
    Ok(StateMachineRecord {
        kind: StateMachineType::parse(&kind).ok_or_else(|| {
            StoreError::Corrupt(format!("state machine {arn}: unknown type {kind}"))
        })?,
        arn,
        name,
        definition,
        created_at: parse_ts(&created_at)?,
        updated_at: parse_ts(&updated_at)?,
    })
}

struct RawExec {
    arn: String,
    state_machine_arn: String,
    name: String,
    status: String,
    input: String,
    output: Option<String>,
    error: Option<String>,
    cause: Option<String>,
    start_date: String,
    stop_date: Option<String>,
    definition: String,
    state: Option<String>,
    version: i64,
    wake_at: Option<String>,
    runnable: bool,
    event_count: i64,
    parent_arn: Option<String>,
}

impl RawExec {
    fn into_record(self) -> Result<ExecutionRecord, StoreError> {
        Ok(ExecutionRecord {
            description: ExecutionDescription {
                status: ExecutionStatus::parse(&self.status)
                    .ok_or_else(|| StoreError::Corrupt(format!("status {}", self.status)))?,
                input: parse_json(&self.input)?,
                output: self.output.as_deref().map(parse_json).transpose()?,
                start_date: parse_ts(&self.start_date)?,
                stop_date: parse_opt_ts(self.stop_date)?,
                execution_arn: self.arn,
                state_machine_arn: self.state_machine_arn,
                name: self.name,
                error: self.error,
                cause: self.cause,
                parent_execution_arn: self.parent_arn,
            },
            wake_at: parse_opt_ts(self.wake_at)?,
            definition: self.definition,
            state: self.state,
            version: self.version,
            runnable: self.runnable,
            event_count: u64::try_from(self.event_count).unwrap_or(0),
        })
    }
}

fn exec_params(rec: &ExecutionRecord) -> Vec<Box<dyn rusqlite::ToSql>> {
    vec![
        Box::new(rec.description.execution_arn.clone()),
        Box::new(rec.description.state_machine_arn.clone()),
        Box::new(rec.description.name.clone()),
        Box::new(rec.description.status.as_str()),
        Box::new(rec.description.input.to_string()),
        Box::new(rec.description.output.as_ref().map(Value::to_string)),
        Box::new(rec.description.error.clone()),
        Box::new(rec.description.cause.clone()),
        Box::new(ts(rec.description.start_date)),
        Box::new(rec.description.stop_date.map(ts)),
        Box::new(rec.definition.clone()),
        Box::new(rec.state.clone()),
        Box::new(rec.version),
        Box::new(rec.wake_at.map(ts)),
        Box::new(rec.runnable),
        Box::new(rec.event_count as i64),
        Box::new(rec.description.parent_execution_arn.clone()),
    ]
}

fn token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(TokenRecordRaw,)> {
    Ok((TokenRecordRaw {
        token_hash: r.get(0)?,
        execution_arn: r.get(1)?,
        state_name: r.get(2)?,
        resource: r.get(3)?,
        status: r.get(4)?,
        created_at: r.get(5)?,
        timeout_at: r.get(6)?,
        heartbeat_at: r.get(7)?,
    },))
}

struct TokenRecordRaw {
    token_hash: String,
    execution_arn: String,
    state_name: String,
    resource: String,
    status: String,
    created_at: String,
    timeout_at: Option<String>,
    heartbeat_at: Option<String>,
}

impl ExecutionStore for SqliteExecutionStore {
    fn process_lock_path(&self) -> Option<std::path::PathBuf> {
        self.lock_path.clone()
    }

    fn put_state_machine(&self, sm: &StateMachineRecord) -> Result<(), StoreError> {
        self.conn()?.execute(
            "INSERT INTO state_machines (arn, name, definition, created_at, updated_at, type) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(arn) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at, type = excluded.type",
            params![sm.arn, sm.name, sm.definition, ts(sm.created_at), ts(sm.updated_at), sm.kind.as_str()],
        )?;
        Ok(())
    }

    fn delete_state_machine(&self, arn: &str) -> Result<bool, StoreError> {
        let n = self
            .conn()?
            .execute("DELETE FROM state_machines WHERE arn = ?1", params![arn])?;
        Ok(n > 0)
    }

    fn get_state_machine(&self, arn: &str) -> Result<Option<StateMachineRecord>, StoreError> {
        let raw = self
            .conn()?
            .query_row(
                &format!("SELECT {SM_COLS} FROM state_machines WHERE arn = ?1"),
                params![arn],
                state_machine_row,
            )
            .optional()?;
        raw.map(state_machine_record).transpose()
    }

    fn list_state_machines(&self) -> Result<Vec<StateMachineRecord>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {SM_COLS} FROM state_machines ORDER BY name"
        ))?;
        let rows = stmt.query_map([], state_machine_row)?;
        rows.map(|row| state_machine_record(row?)).collect()
    }

    fn insert_execution(
        &self,
        rec: &ExecutionRecord,
        events: &[HistoryEvent],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let exists: bool = tx
            .query_row(
                "SELECT 1 FROM executions WHERE arn = ?1",
                params![rec.description.execution_arn],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if exists {
            return Err(StoreError::AlreadyExists(
                rec.description.execution_arn.clone(),
            ));
        }
        let p = exec_params(rec);
        tx.execute(
            &format!(
                "INSERT INTO executions ({EXEC_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
            ),
            rusqlite::params_from_iter(p.iter()),
        )?;
        Self::insert_events(&tx, &rec.description.execution_arn, events)?;
        tx.commit()?;
        Ok(())
    }

    fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        let conn = self.conn()?;
        let raw = conn
            .query_row(
                &format!("SELECT {EXEC_COLS} FROM executions WHERE arn = ?1"),
                params![arn],
                Self::row_to_exec,
            )
            .optional()?;
        raw.map(RawExec::into_record).transpose()
    }

    fn list_executions(
        &self,
        state_machine_arn: Option<&str>,
        status: Option<ExecutionStatus>,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {EXEC_COLS} FROM executions WHERE (?1 IS NULL OR state_machine_arn = ?1) AND (?2 IS NULL OR status = ?2) ORDER BY seq DESC"
        ))?;
        let rows = stmt.query_map(
            params![state_machine_arn, status.map(ExecutionStatus::as_str)],
            Self::row_to_exec,
        )?;
        rows.map(|row| row?.into_record()).collect()
    }

    fn commit(&self, c: Commit) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let rec = &c.record;
        let n = tx.execute(
            "UPDATE executions SET status = ?2, output = ?3, error = ?4, cause = ?5, stop_date = ?6,
                 state = ?7, version = ?8, wake_at = ?9, runnable = ?10, event_count = ?11
             WHERE arn = ?1 AND version = ?12",
            params![
                rec.description.execution_arn,
                rec.description.status.as_str(),
                rec.description.output.as_ref().map(Value::to_string),
                rec.description.error,
                rec.description.cause,
                rec.description.stop_date.map(ts),
                rec.state,
                rec.version,
                rec.wake_at.map(ts),
                rec.runnable,
                rec.event_count as i64,
                c.expected_version
            ],
        )?;
        if n != 1 {
            return Err(StoreError::Conflict(rec.description.execution_arn.clone()));
        }
        Self::insert_events(&tx, &rec.description.execution_arn, &c.events)?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO task_tokens (token_hash, execution_arn, state_name, resource, status, created_at, timeout_at, heartbeat_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(token_hash) DO UPDATE SET status = excluded.status,
                     timeout_at = excluded.timeout_at, heartbeat_at = excluded.heartbeat_at",
            )?;
            for t in &c.tokens {
                stmt.execute(params![
                    t.token_hash,
                    t.execution_arn,
                    t.state_name,
                    t.resource,
                    t.status.as_str(),
                    ts(t.created_at),
                    t.timeout_at.map(ts),
                    t.heartbeat_at.map(ts)
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn due_executions(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT arn FROM executions WHERE status = 'RUNNING' AND (runnable = 1 OR (wake_at IS NOT NULL AND wake_at <= ?1)) ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![ts(now)], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn next_wake_after(&self, after: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        let conn = self.conn()?;
        // `wake_at` is stored as RFC 3339 in UTC with a fixed number of digits, so the
        // smallest text is the earliest time (and the `executions_due` index serves it).
        let earliest: Option<String> = conn.query_row(
            "SELECT MIN(wake_at) FROM executions WHERE status = 'RUNNING' AND wake_at > ?1",
            params![ts(after)],
            |r| r.get(0),
        )?;
        parse_opt_ts(earliest)
    }

    fn get_token(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let conn = self.conn()?;
        let raw = conn
            .query_row(
                "SELECT token_hash, execution_arn, state_name, resource, status, created_at, timeout_at, heartbeat_at FROM task_tokens WHERE token_hash = ?1",
                params![token_hash],
                token_from_row,
            )
            .optional()?;
        raw.map(|(t,)| {
            Ok(TokenRecord {
                status: TokenStatus::parse(&t.status)
                    .ok_or_else(|| StoreError::Corrupt(format!("token status {}", t.status)))?,
                created_at: parse_ts(&t.created_at)?,
                timeout_at: parse_opt_ts(t.timeout_at)?,
                heartbeat_at: parse_opt_ts(t.heartbeat_at)?,
                token_hash: t.token_hash,
                execution_arn: t.execution_arn,
                state_name: t.state_name,
                resource: t.resource,
            })
        })
        .transpose()
    }

    fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT id, previous_event_id, timestamp, type, details FROM history_events WHERE execution_arn = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![arn], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        rows.map(|row| {
            let (id, prev, t, ty, details) = row?;
            let details: EventDetails =
                serde_json::from_str(&details).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(HistoryEvent {
                id: u64::try_from(id).unwrap_or(0),
                previous_event_id: u64::try_from(prev).unwrap_or(0),
                timestamp: parse_ts(&t)?,
                event_type: HistoryEventType::parse(&ty)
                    .ok_or_else(|| StoreError::Corrupt(format!("event type {ty}")))?,
                details,
            })
        })
        .collect()
    }

    fn clock_offset_ms(&self) -> Result<i64, StoreError> {
        Ok(self.conn()?.query_row(
            "SELECT offset_ms FROM virtual_clock WHERE id = 1",
            [],
            |r| r.get(0),
        )?)
    }

    fn add_clock_offset_ms(&self, delta_ms: i64) -> Result<i64, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE virtual_clock SET offset_ms = offset_ms + ?1 WHERE id = 1",
            params![delta_ms],
        )?;
        let v: i64 = tx.query_row(
            "SELECT offset_ms FROM virtual_clock WHERE id = 1",
            [],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok(v)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(arn: &str) -> ExecutionRecord {
        ExecutionRecord {
            description: ExecutionDescription {
                execution_arn: arn.into(),
                state_machine_arn: "sm".into(),
                name: "n".into(),
                status: ExecutionStatus::Running,
                input: json!({"a": 1}),
                output: None,
                error: None,
                cause: None,
                start_date: Utc::now(),
                stop_date: None,
                parent_execution_arn: None,
            },
            definition: "{}".into(),
            state: Some("{}".into()),
            version: 1,
            wake_at: None,
            runnable: false,
            event_count: 0,
        }
    }

    fn exercise(store: &dyn ExecutionStore) {
        let r = rec("arn:1");
        store.insert_execution(&r, &[]).unwrap();
        assert!(matches!(
            store.insert_execution(&r, &[]),
            Err(StoreError::AlreadyExists(_))
        ));
        let mut next = r.clone();
        next.version = 2;
        // Whole milliseconds, as the SQLite store keeps them.
        let wake = DateTime::from_timestamp_millis(Utc::now().timestamp_millis() - 1000).unwrap();
        next.wake_at = Some(wake);
        let ev = HistoryEvent {
            id: 1,
            previous_event_id: 0,
            timestamp: Utc::now(),
            event_type: HistoryEventType::ExecutionStarted,
            details: EventDetails::default(),
        };
        let token = TokenRecord {
            token_hash: "h".into(),
            execution_arn: "arn:1".into(),
            state_name: "S".into(),
            resource: "r".into(),
            status: TokenStatus::Pending,
            created_at: Utc::now(),
            timeout_at: None,
            heartbeat_at: None,
        };
        store
            .commit(Commit {
                record: next.clone(),
                expected_version: 1,
                events: vec![ev],
                tokens: vec![token],
            })
            .unwrap();
        // A second writer that loaded version 1 loses.
        assert!(matches!(
            store.commit(Commit {
                record: next.clone(),
                expected_version: 1,
                events: vec![],
                tokens: vec![],
            }),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.get_execution("arn:1").unwrap().unwrap().version, 2);
        assert_eq!(store.history("arn:1").unwrap().len(), 1);
        assert_eq!(
            store.get_token("h").unwrap().unwrap().status,
            TokenStatus::Pending
        );
        assert_eq!(
            store.due_executions(Utc::now()).unwrap(),
            vec!["arn:1".to_string()]
        );
        assert_eq!(
            store
                .next_wake_after(wake - chrono::Duration::days(1))
                .unwrap(),
            Some(wake)
        );
        let mut later = rec("arn:2");
        later.wake_at = Some(wake + chrono::Duration::hours(1));
        store.insert_execution(&later, &[]).unwrap();
        assert_eq!(
            store
                .next_wake_after(wake - chrono::Duration::days(1))
                .unwrap(),
            Some(wake),
            "the earliest timer of all running executions"
        );
        let mut ended = rec("arn:3");
        ended.description.status = ExecutionStatus::Failed;
        ended.wake_at = Some(wake - chrono::Duration::hours(1));
        store.insert_execution(&ended, &[]).unwrap();
        assert_eq!(
            store
                .next_wake_after(wake - chrono::Duration::days(1))
                .unwrap(),
            Some(wake),
            "an ended execution waits for nothing"
        );
        assert_eq!(
            store.next_wake_after(wake).unwrap(),
            Some(wake + chrono::Duration::hours(1)),
            "only timers after the given instant"
        );
        assert_eq!(store.list_executions(Some("sm"), None).unwrap().len(), 3);
        assert_eq!(
            store
                .list_executions(None, Some(ExecutionStatus::Succeeded))
                .unwrap()
                .len(),
            0
        );
        assert_eq!(store.add_clock_offset_ms(500).unwrap(), 500);
        assert_eq!(store.clock_offset_ms().unwrap(), 500);
    }

    /// Every field of an execution's description survives insert, commit, get and list.
    fn finished_execution_round_trips(store: &dyn ExecutionStore) {
        // Whole milliseconds, as the SQLite store keeps them.
        let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
        // GIVEN a started child execution
        let mut started = rec("arn:done");
        started.description.start_date = now;
        started.description.parent_execution_arn = Some("arn:parent".into());
        store.insert_execution(&started, &[]).unwrap();
        // WHEN it is committed as finished, with an output, an error and a cause
        let mut done = started.clone();
        done.version = 2;
        done.state = None;
        done.event_count = 3;
        done.description.status = ExecutionStatus::Failed;
        done.description.output = Some(json!({"partial": [1, 2]}));
        done.description.error = Some("States.TaskFailed".into());
        done.description.cause = Some("boom".into());
        done.description.stop_date = Some(now + chrono::Duration::seconds(2));
        store
            .commit(Commit {
                record: done.clone(),
                expected_version: 1,
                events: Vec::new(),
                tokens: Vec::new(),
            })
            .unwrap();
        // THEN get and list return it field for field
        assert_eq!(store.get_execution("arn:done").unwrap(), Some(done.clone()));
        assert_eq!(
            store
                .list_executions(Some("sm"), Some(ExecutionStatus::Failed))
                .unwrap(),
            vec![done]
        );
    }

    #[test]
    fn memory_store_finished_execution() {
        finished_execution_round_trips(&MemoryExecutionStore::new());
    }

    #[test]
    fn sqlite_store_finished_execution() {
        finished_execution_round_trips(&SqliteExecutionStore::open_in_memory().unwrap());
    }

    /// Put, get and list of state machines, the same for every store.
    fn state_machines_round_trip(store: &dyn ExecutionStore) {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let sm = |arn: &str, name: &str, definition: &str, updated: &str| StateMachineRecord {
            arn: arn.into(),
            name: name.into(),
            definition: definition.into(),
            created_at: at("2026-01-01T00:00:00.000Z"),
            updated_at: at(updated),
            kind: if name == "b" {
                StateMachineType::Express
            } else {
                StateMachineType::Standard
            },
        };
        // GIVEN two machines, put out of name order, and one of them updated
        store
            .put_state_machine(&sm("arn:b", "b", "{}", "2026-01-01T00:00:00.000Z"))
            .unwrap();
        store
            .put_state_machine(&sm("arn:a", "a", "{}", "2026-01-01T00:00:00.000Z"))
            .unwrap();
        let updated = sm("arn:b", "b", "{\"v\":2}", "2026-01-02T00:00:00.000Z");
        store.put_state_machine(&updated).unwrap();
        // THEN get returns the latest version, an unknown ARN returns None
        assert_eq!(
            store.get_state_machine("arn:b").unwrap(),
            Some(updated.clone())
        );
        assert_eq!(store.get_state_machine("arn:none").unwrap(), None);
        // AND list returns each once, by name
        let names: Vec<String> = store
            .list_state_machines()
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
        // AND delete removes one machine (once), leaving the other
        assert!(store.delete_state_machine("arn:b").unwrap());
        assert!(!store.delete_state_machine("arn:b").unwrap());
        assert_eq!(store.get_state_machine("arn:b").unwrap(), None);
        let left: Vec<String> = store
            .list_state_machines()
            .unwrap()
            .into_iter()
            .map(|m| m.arn)
            .collect();
        assert_eq!(left, ["arn:a"]);
    }

    #[test]
    fn memory_store_state_machines() {
        state_machines_round_trip(&MemoryExecutionStore::new());
    }

    #[test]
    fn sqlite_store_state_machines() {
        let store = SqliteExecutionStore::open_in_memory().unwrap();
        state_machines_round_trip(&store);
        // A stored timestamp that is not RFC 3339 is reported as corrupt, by get and by list.
        store
            .conn()
            .unwrap()
            .execute(
                "UPDATE state_machines SET updated_at = 'yesterday' WHERE arn = 'arn:a'",
                [],
            )
            .unwrap();
        for err in [
            store.get_state_machine("arn:a").unwrap_err(),
            store.list_state_machines().unwrap_err(),
        ] {
            assert!(
                matches!(&err, StoreError::Corrupt(m) if m.contains("yesterday")),
                "{err:?}"
            );
        }
    }

    /// A data directory from before state machine types gains the column; its machines are
    /// STANDARD.
    #[test]
    fn sqlite_store_adds_the_type_column_to_an_old_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE state_machines (arn TEXT PRIMARY KEY, name TEXT NOT NULL,
                   definition TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
                 INSERT INTO state_machines VALUES ('arn:old', 'old', '{}',
                   '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');",
            )
            .unwrap();
        }
        let store = SqliteExecutionStore::open(&path).unwrap();
        let old = store.get_state_machine("arn:old").unwrap().unwrap();
        assert_eq!(old.kind, StateMachineType::Standard);
    }

    #[test]
    fn memory_store() {
        exercise(&MemoryExecutionStore::new());
    }

    #[test]
    fn sqlite_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        exercise(&SqliteExecutionStore::open(&path).unwrap());
        // Reopening sees the data (and the clock offset).
        let again = SqliteExecutionStore::open(&path).unwrap();
        assert_eq!(again.clock_offset_ms().unwrap(), 500);
        assert!(again.get_execution("arn:1").unwrap().is_some());
    }
}
