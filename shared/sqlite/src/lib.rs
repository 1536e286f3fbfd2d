//! Embedded durable store for local runs: SQLite (bundled), one file per data directory.
//! Safe to open from several processes at once (WAL journal, busy timeout, and every write in
//! a transaction with the same version preconditions as DynamoDB). Statements are prepared once
//! per connection (`prepare_cached`): parsing the SQL was a fifth of the CPU per feedback event.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::Serialize;

use hitl_domain::model::{Artifact, FeedbackEntry, Workflow, WorkflowStatus};
use hitl_domain::store::{CreateOutcome, FeedbackContext, Page, StoreError, WorkflowStore};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS workflows (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  TEXT NOT NULL,
    body        TEXT NOT NULL,
    delivery_pending INTEGER NOT NULL DEFAULT 0,
    outbox_key  TEXT
);
CREATE INDEX IF NOT EXISTS workflows_by_status ON workflows (status, updated_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS artifacts (
    workflow_id TEXT NOT NULL,
    iteration   INTEGER NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (workflow_id, iteration)
);
CREATE TABLE IF NOT EXISTS feedback (
    workflow_id     TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    body            TEXT NOT NULL,
    PRIMARY KEY (workflow_id, idempotency_key)
);
";

/// SQLite-backed [`WorkflowStore`].
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn backend(err: rusqlite::Error) -> StoreError {
    match err {
        rusqlite::Error::SqliteFailure(code, _)
            if matches!(
                code.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Throttled(err.to_string())
        }
        other => StoreError::Backend(other.to_string()),
    }
}

fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("encode: {e}")))
}

fn decode<T: DeserializeOwned>(key: &str, body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

/// Decodes the `body` column of every row `sql` returns for one workflow, in query order.
fn decode_workflow_rows<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    workflow_id: &str,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let rows = stmt
        .query_map([workflow_id], |r| r.get::<_, String>(0))
        .map_err(backend)?;
    rows.map(|row| decode(workflow_id, &row.map_err(backend)?))
        .collect()
}

fn timestamp_key(workflow: &Workflow) -> String {
    workflow
        .updated_at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(backend)?;
        Self::init(conn)
    }

    /// An in-memory store (for unit tests and benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(backend)?;
        Self::init(conn)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        // Several processes may open a new data directory at once: setting it up (WAL, the
        // schema) can meet a lock that the busy timeout does not cover; try again briefly.
        let mut attempt = 0;
        loop {
            match Self::set_up(&conn) {
                Err(StoreError::Throttled(_)) if attempt < 50 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(20 * attempt));
                }
                Err(e) => return Err(e),
                Ok(()) => {
                    return Ok(Self {
                        conn: Mutex::new(conn),
                    })
                }
            }
        }
    }

    fn set_up(conn: &Connection) -> Result<(), StoreError> {
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        // FULL: an acknowledged decision survives a power loss (with WAL, NORMAL may lose the
        // last transactions on power failure, though never on a process crash).
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        Self::migrate(conn)
    }

    /// Adds what newer versions of the store keep beside the record: the outbox flag
    /// `delivery_pending` (1 while the workflow is in the outbox: a decision awaits delivery or
    /// a notification a channel), its order `outbox_key` ([`Workflow::outbox_key`]; rows written
    /// before it have none and are read first) and their partial index.
    fn migrate(conn: &Connection) -> Result<(), StoreError> {
        for (column, definition) in [
            ("delivery_pending", "INTEGER NOT NULL DEFAULT 0"),
            ("outbox_key", "TEXT"),
        ] {
            let has_column: bool = conn
                .prepare("SELECT 1 FROM pragma_table_info('workflows') WHERE name = ?1")
                .map_err(backend)?
                .exists([column])
                .map_err(backend)?;
            if !has_column {
                match conn.execute_batch(&format!(
                    "ALTER TABLE workflows ADD COLUMN {column} {definition};"
                )) {
                    // Another process added it between our check and our ALTER.
                    Err(rusqlite::Error::SqliteFailure(_, Some(m)))
                        if m.contains("duplicate column") => {}
                    other => other.map_err(backend)?,
                }
            }
        }
        conn.execute_batch(
            "DROP INDEX IF EXISTS workflows_pending_delivery;
             CREATE INDEX IF NOT EXISTS workflows_outbox
               ON workflows (outbox_key, id) WHERE delivery_pending = 1;",
        )
        .map_err(backend)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Backend("sqlite connection lock poisoned".into()))
    }

    fn read_workflow(conn: &Connection, id: &str) -> Result<Option<Workflow>, StoreError> {
        let body: Option<String> = conn
            .prepare_cached("SELECT body FROM workflows WHERE id = ?1")
            .map_err(backend)?
            .query_row([id], |row| row.get(0))
            .optional()
            .map_err(backend)?;
        body.map(|b| decode(id, &b)).transpose()
    }

    fn read_entry(
        conn: &Connection,
        workflow_id: &str,
        key: &str,
    ) -> Result<Option<FeedbackEntry>, StoreError> {
        let body: Option<String> = conn
            .prepare_cached(
                "SELECT body FROM feedback WHERE workflow_id = ?1 AND idempotency_key = ?2",
            )
            .map_err(backend)?
            .query_row(params![workflow_id, key], |row| row.get(0))
            .optional()
            .map_err(backend)?;
        body.map(|b| decode(key, &b)).transpose()
    }

    fn write_update(
        tx: &rusqlite::Transaction<'_>,
        workflow: &Workflow,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let changed = tx
            .prepare_cached(
                "UPDATE workflows SET status = ?1, version = ?2, updated_at = ?3, body = ?4,
                        delivery_pending = ?7, outbox_key = ?8
                 WHERE id = ?5 AND version = ?6",
            )
            .map_err(backend)?
            .execute(params![
                workflow.status.as_str(),
                workflow.version as i64,
                timestamp_key(workflow),
                encode(workflow)?,
                workflow.id,
                expected_version as i64,
                workflow.in_outbox(),
                workflow.outbox_key()
            ])
            .map_err(backend)?;
        if changed == 1 {
            return Ok(());
        }
        let exists: Option<i64> = tx
            .prepare_cached("SELECT version FROM workflows WHERE id = ?1")
            .map_err(backend)?
            .query_row([&workflow.id], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        match exists {
            None => Err(StoreError::NotFound(workflow.id.clone())),
            Some(_) => Err(StoreError::Conflict(workflow.id.clone())),
        }
    }
}

fn check_next_version(workflow: &Workflow, expected_version: u64) -> Result<(), StoreError> {
    if workflow.version == expected_version + 1 {
        Ok(())
    } else {
        Err(StoreError::Backend(format!(
            "workflow {} version {} must be expected version {} + 1",
            workflow.id, workflow.version, expected_version
        )))
    }
}

#[async_trait]
impl WorkflowStore for SqliteStore {
    async fn create_workflow(&self, workflow: &Workflow) -> Result<CreateOutcome, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        if let Some(existing) = Self::read_workflow(&tx, &workflow.id)? {
            return Ok(CreateOutcome::Existing(Box::new(existing)));
        }
        tx.prepare_cached("INSERT INTO workflows (id, status, version, updated_at, body, delivery_pending, outbox_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .map_err(backend)?
            .execute(params![
                workflow.id,
                workflow.status.as_str(),
                workflow.version as i64,
                timestamp_key(workflow),
                encode(workflow)?,
                workflow.in_outbox(),
                workflow.outbox_key()
            ],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(CreateOutcome::Created)
    }

    async fn get_workflow(&self, id: &str) -> Result<Option<Workflow>, StoreError> {
        let conn = self.lock()?;
        Self::read_workflow(&conn, id)
    }

    async fn update_workflow(
        &self,
        workflow: &Workflow,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        check_next_version(workflow, expected_version)?;
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        Self::write_update(&tx, workflow, expected_version)?;
        tx.commit().map_err(backend)
    }

    async fn put_artifact(&self, workflow_id: &str, artifact: &Artifact) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let existing: Option<String> = tx
            .prepare_cached("SELECT body FROM artifacts WHERE workflow_id = ?1 AND iteration = ?2")
            .map_err(backend)?
            .query_row(params![workflow_id, artifact.iteration], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        if let Some(body) = existing {
            let stored: Artifact = decode(workflow_id, &body)?;
            return if stored.hash == artifact.hash {
                Ok(())
            } else {
                Err(StoreError::Duplicate(format!(
                    "artifact {workflow_id}#{}",
                    artifact.iteration
                )))
            };
        }
        tx.prepare_cached(
            "INSERT INTO artifacts (workflow_id, iteration, body) VALUES (?1, ?2, ?3)",
        )
        .map_err(backend)?
        .execute(params![workflow_id, artifact.iteration, encode(artifact)?])
        .map_err(backend)?;
        tx.commit().map_err(backend)
    }

    async fn get_artifact(
        &self,
        workflow_id: &str,
        iteration: u32,
    ) -> Result<Option<Artifact>, StoreError> {
        let conn = self.lock()?;
        let body: Option<String> = conn
            .prepare_cached("SELECT body FROM artifacts WHERE workflow_id = ?1 AND iteration = ?2")
            .map_err(backend)?
            .query_row(params![workflow_id, iteration], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        body.map(|b| decode(workflow_id, &b)).transpose()
    }

    async fn list_artifacts(&self, workflow_id: &str) -> Result<Vec<Artifact>, StoreError> {
        decode_workflow_rows(
            &*self.lock()?,
            "SELECT body FROM artifacts WHERE workflow_id = ?1 ORDER BY iteration",
            workflow_id,
        )
    }

    async fn load_feedback_context(
        &self,
        workflow_id: &str,
        idempotency_key: &str,
    ) -> Result<FeedbackContext, StoreError> {
        let conn = self.lock()?;
        Ok(FeedbackContext {
            workflow: Self::read_workflow(&conn, workflow_id)?,
            existing_entry: Self::read_entry(&conn, workflow_id, idempotency_key)?,
        })
    }

    async fn record_feedback(
        &self,
        entry: &FeedbackEntry,
        update: Option<(&Workflow, u64)>,
    ) -> Result<(), StoreError> {
        if let Some((workflow, expected)) = update {
            check_next_version(workflow, expected)?;
        }
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        if Self::read_entry(&tx, &entry.workflow_id, &entry.idempotency_key)?.is_some() {
            return Err(StoreError::Duplicate(entry.idempotency_key.clone()));
        }
        if let Some((workflow, expected)) = update {
            Self::write_update(&tx, workflow, expected)?;
        }
        tx.prepare_cached("INSERT INTO feedback (workflow_id, idempotency_key, received_at, body) VALUES (?1, ?2, ?3, ?4)")
            .map_err(backend)?
            .execute(params![
                entry.workflow_id,
                entry.idempotency_key,
                entry.received_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                encode(entry)?
            ],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)
    }

    async fn replace_feedback(&self, entry: &FeedbackEntry) -> Result<(), StoreError> {
        let conn = self.lock()?;
        let changed = conn
            .prepare_cached(
                "UPDATE feedback SET body = ?3 WHERE workflow_id = ?1 AND idempotency_key = ?2",
            )
            .map_err(backend)?
            .execute(params![
                entry.workflow_id,
                entry.idempotency_key,
                encode(entry)?
            ])
            .map_err(backend)?;
        if changed == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound(format!(
                "{}#{}",
                entry.workflow_id, entry.idempotency_key
            )))
        }
    }

    async fn list_feedback(&self, workflow_id: &str) -> Result<Vec<FeedbackEntry>, StoreError> {
        decode_workflow_rows(
            &*self.lock()?,
            "SELECT body FROM feedback WHERE workflow_id = ?1 \
             ORDER BY received_at, idempotency_key",
            workflow_id,
        )
    }

    async fn count_feedback(
        &self,
        workflow_id: &str,
        key_prefix: &str,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let conn = self.lock()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // substr() rather than LIKE: keys may contain LIKE's wildcards.
        let count: i64 = conn
            .prepare_cached(
                "SELECT COUNT(*) FROM (SELECT 1 FROM feedback WHERE workflow_id = ?1
                   AND substr(idempotency_key, 1, length(?2)) = ?2 LIMIT ?3)",
            )
            .map_err(backend)?
            .query_row(params![workflow_id, key_prefix, limit], |r| r.get(0))
            .map_err(backend)?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    async fn list_pending_deliveries(&self, limit: usize) -> Result<Vec<Workflow>, StoreError> {
        let conn = self.lock()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, body FROM workflows WHERE delivery_pending = 1
                 ORDER BY outbox_key, id LIMIT ?1",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([limit], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(backend)?;
        rows.map(|row| {
            let (id, body) = row.map_err(backend)?;
            decode(&id, &body)
        })
        .collect()
    }

    async fn list_due_notifications(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<Workflow>, StoreError> {
        let conn = self.lock()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, body FROM workflows WHERE delivery_pending = 1
                   AND outbox_key >= ?1 AND outbox_key <= ?2
                 ORDER BY outbox_key, id LIMIT ?3",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(
                params![
                    hitl_domain::model::OUTBOX_NOTIFICATIONS,
                    Workflow::due_notifications_bound(now),
                    limit
                ],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .map_err(backend)?;
        rows.map(|row| {
            let (id, body) = row.map_err(backend)?;
            decode(&id, &body)
        })
        .collect()
    }

    async fn list_by_status(
        &self,
        status: WorkflowStatus,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Workflow>, StoreError> {
        let conn = self.lock()?;
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let bodies: Vec<String> = match cursor {
            None => {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT body FROM workflows WHERE status = ?1
                         ORDER BY updated_at DESC, id DESC LIMIT ?2",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![status.as_str(), fetch], |r| r.get::<_, String>(0))
                    .map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            }
            Some(cursor) => {
                let (after_ts, after_id) = cursor
                    .split_once('|')
                    .ok_or_else(|| StoreError::Backend(format!("malformed cursor {cursor:?}")))?;
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT body FROM workflows WHERE status = ?1
                           AND (updated_at < ?2 OR (updated_at = ?2 AND id < ?3))
                         ORDER BY updated_at DESC, id DESC LIMIT ?4",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![status.as_str(), after_ts, after_id, fetch], |r| {
                        r.get::<_, String>(0)
                    })
                    .map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            }
        };
        let mut items: Vec<Workflow> = bodies
            .iter()
            .map(|body| decode("workflows", body))
            .collect::<Result<_, _>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items
                .last()
                .map(|w| format!("{}|{}", timestamp_key(w), w.id))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_offloaded_store_passes_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn WorkflowStore> = Arc::new(OffloadedSqliteStore::new(
            SqliteStore::open(&dir.path().join("o.sqlite")).unwrap(),
        ));
        hitl_domain::store::contract::run_all(store).await;
    }

    /// Issue 14: while another connection holds the write lock, the offloaded store waits on
    /// the blocking pool and the async workers stay free (a timer still fires on time).
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_locked_database_does_not_stall_the_async_workers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite");
        let store = OffloadedSqliteStore::new(SqliteStore::open(&path).unwrap());
        let blocker = rusqlite::Connection::open(&path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE;").unwrap();
        let wf = hitl_domain::store::contract::sample_workflow("locked");
        let write = tokio::spawn(async move { store.create_workflow(&wf).await });
        let started = std::time::Instant::now();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let waited = started.elapsed();
        assert!(
            waited < std::time::Duration::from_millis(1500),
            "worker stalled for {waited:?}"
        );
        assert!(!write.is_finished(), "the write waits for the lock");
        blocker.execute_batch("COMMIT;").unwrap();
        assert!(write.await.unwrap().is_ok());
    }

    /// A database written before the outbox order (no `outbox_key`, the old partial index, a
    /// workflow in the outbox) opens: the column is added, the old index replaced, and the old
    /// row — whose order is unknown — is read first, before a decision written since.
    #[tokio::test]
    async fn a_database_from_before_the_outbox_order_opens_and_reads_old_rows_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        let old = hitl_domain::store::contract::sample_workflow("wf-old");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE workflows (id TEXT PRIMARY KEY, status TEXT NOT NULL,
                    version INTEGER NOT NULL, updated_at TEXT NOT NULL, body TEXT NOT NULL,
                    delivery_pending INTEGER NOT NULL DEFAULT 0);
                 CREATE INDEX workflows_pending_delivery
                    ON workflows (updated_at, id) WHERE delivery_pending = 1;",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO workflows (id, status, version, updated_at, body, delivery_pending)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1)",
                params![
                    old.id,
                    old.status.as_str(),
                    old.version as i64,
                    "2026-01-05T09:00:00.000000Z",
                    serde_json::to_string(&old).unwrap()
                ],
            )
            .unwrap();
        }
        let store: Arc<dyn WorkflowStore> = Arc::new(SqliteStore::open(&path).unwrap());
        let waiting = hitl_domain::store::contract::stored_awaiting_review(store.as_ref()).await;
        let submission = hitl_domain::rules::Submission {
            resolution: None,
            iteration: 1,
            decision: hitl_domain::model::Decision::Approve,
            reviewer: "rita".into(),
            reviewer_id: "name:rita".into(),
            comments: String::new(),
            corrections: vec![],
            idempotency_key: "k-new".into(),
        };
        let applied =
            hitl_domain::rules::decide(&waiting, &submission, waiting.updated_at).unwrap();
        assert!(applied.workflow.pending_delivery().is_some());
        store
            .update_workflow(&applied.workflow, waiting.version)
            .await
            .unwrap();
        let order: Vec<String> = store
            .list_pending_deliveries(10)
            .await
            .unwrap()
            .into_iter()
            .map(|w| w.id)
            .collect();
        assert_eq!(order, vec!["wf-old".to_owned(), waiting.id.clone()]);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let indexes: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'workflows'",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            indexes.contains(&"workflows_outbox".to_owned()),
            "{indexes:?}"
        );
        assert!(
            !indexes.contains(&"workflows_pending_delivery".to_owned()),
            "{indexes:?}"
        );
    }

    #[tokio::test]
    async fn in_memory_store_passes_the_contract() {
        let store: Arc<dyn WorkflowStore> = Arc::new(SqliteStore::in_memory().unwrap());
        hitl_domain::store::contract::run_all(store).await;
    }

    #[tokio::test]
    async fn file_store_passes_the_contract_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hitl.sqlite");
        let store: Arc<dyn WorkflowStore> = Arc::new(SqliteStore::open(&path).unwrap());
        hitl_domain::store::contract::run_all(Arc::clone(&store)).await;
        let wf = hitl_domain::store::contract::sample_workflow("durable");
        store.create_workflow(&wf).await.unwrap();
        drop(store);
        let reopened = SqliteStore::open(&path).unwrap();
        assert_eq!(reopened.get_workflow("durable").await.unwrap(), Some(wf));
    }
}

/// A [`SqliteStore`] whose every call runs on the blocking thread pool, so a busy database
/// (another process holding the write lock, up to the busy timeout) never stalls an async
/// worker: `hitl serve` keeps answering `/healthz` and other requests meanwhile.
#[derive(Clone)]
pub struct OffloadedSqliteStore(std::sync::Arc<SqliteStore>);

impl OffloadedSqliteStore {
    /// Wraps a store.
    pub fn new(store: SqliteStore) -> Self {
        Self(std::sync::Arc::new(store))
    }
}

/// Runs `call` (a store call) on the blocking pool.
async fn offload<T, F>(store: &std::sync::Arc<SqliteStore>, call: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(std::sync::Arc<SqliteStore>, tokio::runtime::Handle) -> Result<T, StoreError>
        + Send
        + 'static,
{
    let store = std::sync::Arc::clone(store);
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || call(store, handle))
        .await
        .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
}

#[async_trait]
impl WorkflowStore for OffloadedSqliteStore {
    async fn create_workflow(&self, workflow: &Workflow) -> Result<CreateOutcome, StoreError> {
        let workflow = workflow.clone();
        offload(&self.0, move |s, h| {
            h.block_on(s.create_workflow(&workflow))
        })
        .await
    }

    async fn get_workflow(&self, id: &str) -> Result<Option<Workflow>, StoreError> {
        let id = id.to_owned();
        offload(&self.0, move |s, h| h.block_on(s.get_workflow(&id))).await
    }

    async fn update_workflow(
        &self,
        workflow: &Workflow,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let workflow = workflow.clone();
        offload(&self.0, move |s, h| {
            h.block_on(s.update_workflow(&workflow, expected_version))
        })
        .await
    }

    async fn put_artifact(&self, workflow_id: &str, artifact: &Artifact) -> Result<(), StoreError> {
        let (id, artifact) = (workflow_id.to_owned(), artifact.clone());
        offload(&self.0, move |s, h| {
            h.block_on(s.put_artifact(&id, &artifact))
        })
        .await
    }

    async fn get_artifact(
        &self,
        workflow_id: &str,
        iteration: u32,
    ) -> Result<Option<Artifact>, StoreError> {
        let id = workflow_id.to_owned();
        offload(&self.0, move |s, h| {
            h.block_on(s.get_artifact(&id, iteration))
        })
        .await
    }

    async fn list_artifacts(&self, workflow_id: &str) -> Result<Vec<Artifact>, StoreError> {
        let id = workflow_id.to_owned();
        offload(&self.0, move |s, h| h.block_on(s.list_artifacts(&id))).await
    }

    async fn load_feedback_context(
        &self,
        workflow_id: &str,
        idempotency_key: &str,
    ) -> Result<FeedbackContext, StoreError> {
        let (id, key) = (workflow_id.to_owned(), idempotency_key.to_owned());
        offload(&self.0, move |s, h| {
            h.block_on(s.load_feedback_context(&id, &key))
        })
        .await
    }

    async fn record_feedback(
        &self,
        entry: &FeedbackEntry,
        update: Option<(&Workflow, u64)>,
    ) -> Result<(), StoreError> {
        let entry = entry.clone();
        let update = update.map(|(w, v)| (w.clone(), v));
        offload(&self.0, move |s, h| {
            h.block_on(s.record_feedback(&entry, update.as_ref().map(|(w, v)| (w, *v))))
        })
        .await
    }

    async fn replace_feedback(&self, entry: &FeedbackEntry) -> Result<(), StoreError> {
        let entry = entry.clone();
        offload(&self.0, move |s, h| h.block_on(s.replace_feedback(&entry))).await
    }

    async fn count_feedback(
        &self,
        workflow_id: &str,
        key_prefix: &str,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let (id, prefix) = (workflow_id.to_owned(), key_prefix.to_owned());
        offload(&self.0, move |s, h| {
            h.block_on(s.count_feedback(&id, &prefix, limit))
        })
        .await
    }

    async fn list_feedback(&self, workflow_id: &str) -> Result<Vec<FeedbackEntry>, StoreError> {
        let id = workflow_id.to_owned();
        offload(&self.0, move |s, h| h.block_on(s.list_feedback(&id))).await
    }

    async fn list_pending_deliveries(&self, limit: usize) -> Result<Vec<Workflow>, StoreError> {
        offload(&self.0, move |s, h| {
            h.block_on(s.list_pending_deliveries(limit))
        })
        .await
    }

    async fn list_due_notifications(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<Workflow>, StoreError> {
        offload(&self.0, move |s, h| {
            h.block_on(s.list_due_notifications(now, limit))
        })
        .await
    }

    async fn list_by_status(
        &self,
        status: WorkflowStatus,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Workflow>, StoreError> {
        let cursor = cursor.map(str::to_owned);
        offload(&self.0, move |s, h| {
            h.block_on(s.list_by_status(status, limit, cursor.as_deref()))
        })
        .await
    }
}
