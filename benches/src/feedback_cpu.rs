//! Section 2: CPU seconds per 1,000 feedback events through `FeedbackProcessor`, against the
//! embedded SQLite store and DynamoDB Local, side by side with a faithful Python port of the
//! same validate + decide + record rules (`benches/python/feedback_baseline.py`).
//!
//! The event mix per workflow (waiting for the review of iteration 2): an accepted
//! `request_changes` (with a correction), its duplicate (same key and body), a stale submission
//! for iteration 1, and a late approval for the already-decided iteration 2: four events, so 10,000 events touch
//! 2,500 workflows. Both sides measure only the processing loop (seeding excluded), as CPU
//! time of their own process (user + system, all threads).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hitl_domain::feedback::{FeedbackProcessor, FeedbackReceipt, FeedbackRequest, Reviewer};
use hitl_domain::model::{Correction, FeedbackOutcome, TaskToken};
use hitl_domain::ports::{Clock, ExecutionResumer, ResumeError};
use hitl_domain::store::WorkflowStore;
use hitl_sqlite::SqliteStore;
use serde_json::Value;

use crate::report::{Row, Target};

/// Resumer that accepts every token (the execution side is not measured here).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopResumer;

#[async_trait]
impl ExecutionResumer for NoopResumer {
    async fn resume(&self, _token: &TaskToken, _output: &Value) -> Result<(), ResumeError> {
        Ok(())
    }
}

/// A clock fixed at the bench's "now".
#[derive(Debug, Clone, Copy)]
pub struct BenchClock(pub DateTime<Utc>);

impl Clock for BenchClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// The four submissions made for workflow `id`: (idempotency key, request).
pub fn event_kinds(id: &str) -> [(String, FeedbackRequest); 4] {
    let accept = FeedbackRequest {
        iteration: Some(2),
        decision: Some("request_changes".into()),
        comments: Some("Closer. Make the tagline shorter.".into()),
        corrections: vec![Correction {
            field: "colors.primary".into(),
            value: "#1B4D3E".into(),
        }],
    };
    [
        (format!("rita-{id}-2-changes"), accept.clone()),
        (format!("rita-{id}-2-changes"), accept),
        (
            format!("rita-{id}-1-late"),
            FeedbackRequest {
                iteration: Some(1),
                decision: Some("request_changes".into()),
                comments: Some("The tagline is too long.".into()),
                corrections: vec![Correction {
                    field: "tagline".into(),
                    value: "Gear for every trail".into(),
                }],
            },
        ),
        (
            format!("sam-{id}-2-approve"),
            FeedbackRequest {
                iteration: Some(2),
                decision: Some("approve".into()),
                comments: Some("Fine by me.".into()),
                corrections: vec![],
            },
        ),
    ]
}

/// `applied`, `replayed` or the rejection reason.
pub fn outcome_name(receipt: &FeedbackReceipt) -> String {
    if receipt.replayed {
        return "replayed".into();
    }
    match &receipt.outcome {
        FeedbackOutcome::Applied { .. } => "applied".into(),
        FeedbackOutcome::Rejected { reason, .. } => reason.clone(),
    }
}

/// The processor of every bench pass.
pub type BenchProcessor = FeedbackProcessor;

/// The feedback processor every bench pass uses (no-op resumer, the bench's fixed clock) and
/// the reviewer its submissions come from.
pub fn bench_submitter(store: Arc<dyn WorkflowStore>) -> (BenchProcessor, Reviewer) {
    let processor = FeedbackProcessor::new(
        store,
        Arc::new(NoopResumer),
        Arc::new(BenchClock(crate::fixtures::bench_now())),
    );
    let reviewer = Reviewer::declared(
        "rita",
        Some(vec!["reviewers".into()]),
        hitl_domain::model::Channel::Api,
    );
    (processor, reviewer)
}

/// Runs `pass` the way a function runs: on its own current-thread tokio runtime (as every
/// function's `main`) on a blocking thread, so the SDK configuration, the HTTP connection pool
/// and all the pass's work live there and nothing lands on the bench's own runtime threads.
pub async fn like_a_function<F, Fut>(pass: F) -> Result<Pass>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Pass>>,
{
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(pass())
    })
    .await?
}

/// Workflow ids of one pass.
pub fn workflow_ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}-{i:05}")).collect()
}

/// Result of one pass of `events` submissions.
#[derive(Debug, Clone, Default)]
pub struct Pass {
    /// CPU seconds of the processing loop (user + system).
    pub cpu_s: f64,
    /// The system (kernel) part of `cpu_s`: syscalls, and on loopback the TCP work of both
    /// ends that the kernel charges to the sending process.
    pub sys_s: f64,
    /// Wall seconds of the processing loop.
    pub wall_s: f64,
    /// Events processed.
    pub events: usize,
    /// Outcome → count.
    pub outcomes: BTreeMap<String, usize>,
}

impl Pass {
    /// Fails unless every workflow produced one outcome of each kind.
    pub fn check(&self, workflows: usize, who: &str) -> Result<()> {
        for name in ["applied", "replayed", "stale_iteration", "already_decided"] {
            let got = self.outcomes.get(name).copied().unwrap_or(0);
            ensure!(
                got == workflows,
                "{who}: expected {workflows} {name} outcomes, got {:?}",
                self.outcomes
            );
        }
        Ok(())
    }
}

/// The Rust side: every event through one `FeedbackProcessor`, sequentially.
pub async fn rust_pass(store: Arc<dyn WorkflowStore>, ids: &[String]) -> Result<Pass> {
    let (processor, reviewer) = bench_submitter(store);
    let events: Vec<(&String, [(String, FeedbackRequest); 4])> =
        ids.iter().map(|id| (id, event_kinds(id))).collect();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let cpu = crate::procfs::CpuMark::now();
    let t0 = Instant::now();
    for (id, kinds) in &events {
        for (key, request) in kinds {
            let receipt = processor.submit(id, request, key, &reviewer).await?;
            *outcomes.entry(outcome_name(&receipt)).or_default() += 1;
        }
    }
    let wall_s = t0.elapsed().as_secs_f64();
    let (cpu_s, sys_s) = cpu.elapsed();
    Ok(Pass {
        cpu_s,
        sys_s,
        wall_s,
        events: ids.len() * 4,
        outcomes,
    })
}

/// [`rust_pass`] [`like_a_function`], with the store (and for DynamoDB the SDK client) built
/// on the pass's own runtime.
pub async fn rust_pass_like_a_function(
    backend: &'static str,
    target: String,
    endpoint: &str,
    ids: Vec<String>,
) -> Result<Pass> {
    let endpoint = endpoint.to_string();
    like_a_function(move || async move {
        let store: Arc<dyn WorkflowStore> = match backend {
            "sqlite" => Arc::new(SqliteStore::open(Path::new(&target))?),
            _ => {
                let sdk = crate::fixtures::local_sdk_config(&endpoint).await;
                Arc::new(hitl_aws::dynamodb::DynamoStore::new(
                    aws_sdk_dynamodb::Client::new(&sdk),
                    target,
                ))
            }
        };
        rust_pass(store, &ids).await
    })
    .await
}

/// Median CPU per 1,000 events of (cpu, wall) samples.
fn median_cpu(samples: &[(f64, f64)]) -> f64 {
    crate::median(&samples.iter().map(|x| x.0).collect::<Vec<_>>())
}

/// The Python side: `feedback_baseline.py` in the bench venv.
pub fn python_pass(
    backend: &str,
    target: &str,
    prefix: &str,
    count: usize,
    endpoint: &str,
) -> Result<Pass> {
    let script = crate::workspace_root().join("benches/python/feedback_baseline.py");
    let output = Command::new(crate::bench_python())
        .arg(&script)
        .args(["--backend", backend, "--target", target, "--prefix", prefix])
        .args(["--count", &count.to_string()])
        .args(["--now", &crate::fixtures::bench_now().to_rfc3339()])
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", crate::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", crate::SECRET_KEY)
        .env("AWS_DEFAULT_REGION", crate::REGION)
        .env("AWS_REGION", crate::REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !output.status.success() {
        bail!(
            "python baseline failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let v: Value = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "python baseline printed no JSON: {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })?;
    Ok(Pass {
        cpu_s: v["cpu_s"].as_f64().unwrap_or(f64::NAN),
        sys_s: v["sys_s"].as_f64().unwrap_or(f64::NAN),
        wall_s: v["wall_s"].as_f64().unwrap_or(f64::NAN),
        events: v["events"].as_u64().unwrap_or(0) as usize,
        outcomes: serde_json::from_value(v["outcomes"].clone()).unwrap_or_default(),
    })
}

fn fresh_sqlite(path: &Path) -> Result<SqliteStore> {
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", path.display());
        let _ = std::fs::remove_file(p);
    }
    Ok(SqliteStore::open(path)?)
}

/// The SQLite floor: the same SQL statements the SQLite store runs for this event mix (two
/// reads per event; a transaction with the entry check, the version-conditional update for
/// the accepted one and the insert for every recorded one), with bodies serialized in advance.
/// `cached` uses prepared-statement caching (the store prepares every statement anew, Python's
/// `sqlite3` caches them). Returns CPU seconds for `ids.len() * 4` events.
pub fn sqlite_floor(path: &Path, ids: &[String], cached: bool) -> Result<f64> {
    use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let sample = crate::fixtures::awaiting_review("x");
    let mut next = sample.clone();
    next.version += 1;
    let body = serde_json::to_string(&next)?;
    let entry_body = "e".repeat(520);
    let read =
        |conn: &Connection, sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<Option<String>> {
            let row = if cached {
                conn.prepare_cached(sql)?
                    .query_row(p, |r| r.get(0))
                    .optional()?
            } else {
                conn.query_row(sql, p, |r| r.get(0)).optional()?
            };
            Ok(row)
        };
    let exec = |conn: &Connection, sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<usize> {
        Ok(if cached {
            conn.prepare_cached(sql)?.execute(p)?
        } else {
            conn.execute(sql, p)?
        })
    };
    const WF: &str = "SELECT body FROM workflows WHERE id = ?1";
    const FB: &str = "SELECT body FROM feedback WHERE workflow_id = ?1 AND idempotency_key = ?2";
    const UPD: &str = "UPDATE workflows SET status = ?1, version = ?2, updated_at = ?3, body = ?4 WHERE id = ?5 AND version = ?6";
    const INS: &str = "INSERT INTO feedback (workflow_id, idempotency_key, received_at, body) VALUES (?1, ?2, ?3, ?4)";
    let cpu = crate::procfs::CpuMark::now();
    for id in ids {
        let kinds = event_kinds(id);
        for (n, (key, _)) in kinds.iter().enumerate() {
            let wf = read(&conn, WF, params![id])?;
            let entry = read(&conn, FB, params![id, key])?;
            std::hint::black_box((wf, entry.is_some()));
            if n == 1 {
                continue; // the duplicate only reads
            }
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            read(&tx, FB, params![id, key])?;
            if n == 0 {
                exec(
                    &tx,
                    UPD,
                    params![
                        "revising",
                        7i64,
                        "2026-03-02T09:00:00.000000Z",
                        body,
                        id,
                        6i64
                    ],
                )?;
            }
            exec(
                &tx,
                INS,
                params![id, key, "2026-03-02T09:00:00.000000Z", entry_body],
            )?;
            tx.commit()?;
        }
    }
    Ok(cpu.elapsed().0)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Rust,
    Python,
    /// DynamoDB only: the store's requests alone ([`crate::ddb_floor`]).
    Floor,
}

/// Runs `rounds` interleaved rounds of both sides on both backends.
pub async fn measure(
    sdk: &aws_config::SdkConfig,
    endpoint: &str,
    events: usize,
    rounds: usize,
    ddb_rounds: usize,
    log: &dyn Fn(&str),
) -> Result<Vec<Row>> {
    let workflows = events.div_ceil(4);
    let mut floors: BTreeMap<bool, Vec<f64>> = BTreeMap::new();
    let dir = crate::out_dir();
    std::fs::create_dir_all(&dir)?;
    // backend → side → samples of (cpu per 1000, wall per 1000)
    let mut samples: BTreeMap<(&str, &str), Vec<(f64, f64)>> = BTreeMap::new();
    // backend → side → system (kernel) CPU per 1000
    let mut system: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for round in 0..rounds.max(ddb_rounds) {
        for backend in ["sqlite", "dynamodb"] {
            if (backend == "sqlite" && round >= rounds)
                || (backend == "dynamodb" && round >= ddb_rounds)
            {
                continue;
            }
            if backend == "sqlite" {
                for cached in [false, true] {
                    let prefix = format!("fb-r{round}-floor{}", u8::from(cached));
                    let ids = workflow_ids(&prefix, workflows);
                    let path = dir.join(format!("feedback-{prefix}.sqlite"));
                    let store: Arc<dyn WorkflowStore> = Arc::new(fresh_sqlite(&path)?);
                    crate::fixtures::seed(store, &ids, crate::fixtures::awaiting_review, 1).await?;
                    let cpu = sqlite_floor(&path, &ids, cached)?;
                    log(&format!(
                        "  feedback round {round} sqlite   floor{}: CPU {cpu:.3} s",
                        if cached { " (cached statements)" } else { "" }
                    ));
                    floors
                        .entry(cached)
                        .or_default()
                        .push(cpu * 1000.0 / (ids.len() * 4) as f64);
                }
            }
            let mut order = if round % 2 == 0 {
                vec![Side::Rust, Side::Python]
            } else {
                vec![Side::Python, Side::Rust]
            };
            if backend == "dynamodb" {
                order.insert(round % 3, Side::Floor);
            }
            for side in order {
                let label = match side {
                    Side::Rust => "rust",
                    Side::Python => "python",
                    Side::Floor => "floor",
                };
                let prefix = format!("fb-r{round}-{label}");
                let ids = workflow_ids(&prefix, workflows);
                let target = match backend {
                    "sqlite" => {
                        let path = dir.join(format!("feedback-{prefix}.sqlite"));
                        let store: Arc<dyn WorkflowStore> = Arc::new(fresh_sqlite(&path)?);
                        crate::fixtures::seed(
                            Arc::clone(&store),
                            &ids,
                            crate::fixtures::awaiting_review,
                            1,
                        )
                        .await?;
                        path.display().to_string()
                    }
                    _ => {
                        let table = format!("bench-{prefix}");
                        let store: Arc<dyn WorkflowStore> =
                            Arc::new(crate::fixtures::dynamo_table(sdk, &table, None).await?);
                        crate::fixtures::seed(store, &ids, crate::fixtures::awaiting_review, 16)
                            .await?;
                        table
                    }
                };
                let pass = match side {
                    Side::Rust => {
                        rust_pass_like_a_function(backend, target.clone(), endpoint, ids.clone())
                            .await?
                    }
                    Side::Python => python_pass(backend, &target, &prefix, workflows, endpoint)?,
                    Side::Floor => {
                        crate::ddb_floor::floor_pass_like_a_function(
                            endpoint,
                            target.clone(),
                            ids.clone(),
                        )
                        .await?
                    }
                };
                pass.check(workflows, &format!("{label}/{backend}"))?;
                let per_k = 1000.0 / pass.events as f64;
                log(&format!(
                    "  feedback round {round} {backend:8} {label:6}: {} events, CPU {:.3} s (system {:.3} s), wall {:.3} s",
                    pass.events, pass.cpu_s, pass.sys_s, pass.wall_s
                ));
                samples
                    .entry((backend, label))
                    .or_default()
                    .push((pass.cpu_s * per_k, pass.wall_s * per_k));
                system
                    .entry((backend, label))
                    .or_default()
                    .push(pass.sys_s * per_k);
            }
        }
    }
    let mut rows = Vec::new();
    for (backend, name) in [
        ("sqlite", "embedded SQLite"),
        ("dynamodb", "DynamoDB Local"),
    ] {
        let ours = samples.get(&(backend, "rust")).cloned().unwrap_or_default();
        let theirs = samples
            .get(&(backend, "python"))
            .cloned()
            .unwrap_or_default();
        let wall = |s: &[(f64, f64)]| crate::median(&s.iter().map(|x| x.1).collect::<Vec<_>>());
        rows.push(Row {
            section: "2 feedback".into(),
            metric: format!("CPU per 1,000 feedback events, {name}"),
            value: median_cpu(&ours),
            unit: "CPU-s".into(),
            baseline_name: format!(
                "Python 3 port ({})",
                if backend == "sqlite" {
                    "sqlite3"
                } else {
                    "boto3"
                }
            ),
            baseline: Some(median_cpu(&theirs)),
            target: Target::RatioAtMost(0.1),
            note: format!(
                "{events} events × {} rounds; wall {:.3} s vs {:.3} s per 1,000",
                if backend == "sqlite" {
                    rounds
                } else {
                    ddb_rounds
                },
                wall(&ours),
                wall(&theirs)
            ),
        });
    }
    // What the kernel alone charged the Rust pass (syscalls; on loopback also the TCP work of
    // both ends): a floor no client code can go below, against Python's whole CPU.
    let median_of = |v: Option<&Vec<f64>>| crate::median(v.map(Vec::as_slice).unwrap_or(&[]));
    let python_ddb = samples.get(&("dynamodb", "python")).map(|s| median_cpu(s));
    if python_ddb.is_some() {
        rows.push(Row {
            section: "2 feedback".into(),
            metric: "DynamoDB Local floor: the Rust pass's system (kernel) CPU alone per 1,000 events"
                .into(),
            value: median_of(system.get(&("dynamodb", "rust"))),
            unit: "CPU-s".into(),
            baseline_name: "Python 3 port (boto3)".into(),
            baseline: python_ddb,
            target: Target::Info,
            note: format!(
                "syscalls and loopback TCP, no user-space work; Python's own system CPU {:.4} CPU-s",
                median_of(system.get(&("dynamodb", "python")))
            ),
        });
        rows.push(Row {
            section: "2 feedback".into(),
            metric: "DynamoDB Local floor: the store's 7 requests per 4 events alone through aws-sdk-dynamodb, per 1,000 events"
                .into(),
            value: median_cpu(samples.get(&("dynamodb", "floor")).map(Vec::as_slice).unwrap_or(&[])),
            unit: "CPU-s".into(),
            baseline_name: "Python 3 port (boto3)".into(),
            baseline: python_ddb,
            target: Target::Info,
            note: format!(
                "items built before timing, no rules, no JSON of records: the limit any implementation on the official SDK pays (system CPU {:.4})",
                median_of(system.get(&("dynamodb", "floor")))
            ),
        });
    }
    let python_sqlite = samples.get(&("sqlite", "python")).map(|s| median_cpu(s));
    for (cached, label) in [
        (false, "as the store runs them (no statement cache)"),
        (true, "with prepared-statement cache"),
    ] {
        rows.push(Row {
            section: "2 feedback".into(),
            metric: format!("SQLite floor: the store's SQL alone per 1,000 events, {label}"),
            value: crate::median(floors.get(&cached).map(Vec::as_slice).unwrap_or(&[])),
            unit: "CPU-s".into(),
            baseline_name: "Python 3 port (sqlite3)".into(),
            baseline: python_sqlite,
            target: Target::Info,
            note: "no JSON, no rules: the limit any SQLite-backed implementation pays".into(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn the_event_mix_gives_one_of_each_outcome_per_workflow() {
        let store: Arc<dyn WorkflowStore> = Arc::new(SqliteStore::in_memory().unwrap());
        let ids = workflow_ids("t", 2);
        crate::fixtures::seed(
            Arc::clone(&store),
            &ids,
            crate::fixtures::awaiting_review,
            1,
        )
        .await
        .unwrap();
        let pass = rust_pass(store, &ids).await.unwrap();
        assert_eq!(pass.events, 8);
        pass.check(2, "test").unwrap();
    }
}
