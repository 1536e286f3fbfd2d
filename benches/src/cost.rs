//! Section 7: what one workflow costs to run on AWS, counted on the real definition and the
//! real function code (the local engine, with every store request of the functions counted by
//! a wrapper around the workflow store).
//!
//! Counted exactly: state transitions (every `*StateEntered` event, which is what Step
//! Functions Standard bills), Lambda invocations (every `TaskScheduled`), DynamoDB requests
//! and their capacity units, computed from the size of each item read or written (on-demand:
//! 1 WRU per KB written, 1 RRU per 4 KB read strongly consistent, twice that inside a
//! transaction). Assumed (and printed): the list prices below and the Lambda duration.
//!
//! Scenarios: approved after 3 iterations (the smoke `ApproveAfterRevisions` at
//! `max_iterations` 3), and escalated at the limit (`EscalateAtLimit` at the default 10, then
//! resolved by the synthetic resolver). The batch execution that starts the workflows is
//! shared out over them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, ensure, Result};
use async_trait::async_trait;
use hitl_cli::local::Runtime;
use hitl_domain::metadata::LocalGenerator;
use hitl_domain::model::{Artifact, FeedbackEntry, SmokeScenario, Workflow, WorkflowStatus};
use hitl_domain::store::{CreateOutcome, FeedbackContext, Page, StoreError, WorkflowStore};
use serde_json::json;
use statemachine::HistoryEvent;

use crate::report::{Row, Target};

/// USD per state transition (Step Functions Standard: $0.025 per 1,000).
pub const PRICE_TRANSITION: f64 = 0.025 / 1000.0;
/// USD per Lambda request ($0.20 per million).
pub const PRICE_LAMBDA_REQUEST: f64 = 0.20 / 1e6;
/// USD per Lambda GB-second on arm64.
pub const PRICE_LAMBDA_GB_S: f64 = 0.000_013_333_4;
/// USD per DynamoDB on-demand write request unit ($0.625 per million).
pub const PRICE_WRU: f64 = 0.625 / 1e6;
/// USD per DynamoDB on-demand read request unit ($0.125 per million).
pub const PRICE_RRU: f64 = 0.125 / 1e6;
/// The stack's default function memory (template parameter `LambdaMemorySize`).
pub const LAMBDA_MEMORY_GB: f64 = 0.256;
/// Assumed billed duration of one invocation (warm; the functions are I/O bound).
pub const LAMBDA_SECONDS: f64 = 0.1;

/// Requests and capacity units, per workflow id.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// DynamoDB requests.
    pub requests: u64,
    /// Write request units.
    pub wru: u64,
    /// Read request units.
    pub rru: u64,
}

/// A workflow store that counts what the DynamoDB adapter would send for each call.
pub struct CountingStore {
    inner: Arc<dyn WorkflowStore>,
    usage: Mutex<HashMap<String, Usage>>,
}

fn bytes<T: serde::Serialize>(value: &T) -> u64 {
    // The item is the JSON record plus a few key and index attributes.
    serde_json::to_vec(value).map_or(0, |v| v.len() as u64) + 200
}

fn wru(size: u64) -> u64 {
    size.div_ceil(1024).max(1)
}

fn rru(size: u64) -> u64 {
    size.div_ceil(4096).max(1)
}

impl CountingStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn WorkflowStore>) -> Self {
        Self {
            inner,
            usage: Mutex::new(HashMap::new()),
        }
    }

    fn add(&self, workflow_id: &str, requests: u64, wru: u64, rru: u64) {
        if let Ok(mut usage) = self.usage.lock() {
            let u = usage.entry(workflow_id.to_owned()).or_default();
            u.requests += requests;
            u.wru += wru;
            u.rru += rru;
        }
    }

    /// Usage of one workflow (`""`: requests not about one workflow, e.g. listings).
    pub fn usage(&self, workflow_id: &str) -> Usage {
        self.usage
            .lock()
            .ok()
            .and_then(|u| u.get(workflow_id).copied())
            .unwrap_or_default()
    }
}

#[async_trait]
impl WorkflowStore for CountingStore {
    async fn create_workflow(&self, workflow: &Workflow) -> Result<CreateOutcome, StoreError> {
        self.add(&workflow.id, 1, wru(bytes(workflow)), 0);
        self.inner.create_workflow(workflow).await
    }
    async fn get_workflow(&self, id: &str) -> Result<Option<Workflow>, StoreError> {
        let got = self.inner.get_workflow(id).await?;
        self.add(id, 1, 0, rru(got.as_ref().map_or(0, bytes)));
        Ok(got)
    }
    async fn update_workflow(&self, workflow: &Workflow, expected: u64) -> Result<(), StoreError> {
        self.add(&workflow.id, 1, wru(bytes(workflow)), 0);
        self.inner.update_workflow(workflow, expected).await
    }
    async fn put_artifact(&self, workflow_id: &str, artifact: &Artifact) -> Result<(), StoreError> {
        self.add(workflow_id, 1, wru(bytes(artifact)), 0);
        self.inner.put_artifact(workflow_id, artifact).await
    }
    async fn get_artifact(
        &self,
        workflow_id: &str,
        iteration: u32,
    ) -> Result<Option<Artifact>, StoreError> {
        let got = self.inner.get_artifact(workflow_id, iteration).await?;
        self.add(workflow_id, 1, 0, rru(got.as_ref().map_or(0, bytes)));
        Ok(got)
    }
    async fn list_artifacts(&self, workflow_id: &str) -> Result<Vec<Artifact>, StoreError> {
        let got = self.inner.list_artifacts(workflow_id).await?;
        self.add(workflow_id, 1, 0, rru(got.iter().map(bytes).sum()));
        Ok(got)
    }
    async fn load_feedback_context(
        &self,
        workflow_id: &str,
        idempotency_key: &str,
    ) -> Result<FeedbackContext, StoreError> {
        let got = self
            .inner
            .load_feedback_context(workflow_id, idempotency_key)
            .await?;
        // BatchGetItem of the record and the entry under the key.
        let read = rru(got.workflow.as_ref().map_or(0, bytes))
            + rru(got.existing_entry.as_ref().map_or(0, bytes));
        self.add(workflow_id, 1, 0, read);
        Ok(got)
    }
    async fn record_feedback(
        &self,
        entry: &FeedbackEntry,
        update: Option<(&Workflow, u64)>,
    ) -> Result<(), StoreError> {
        let units = match update {
            // TransactWriteItems: twice the units of each item.
            Some((workflow, _)) => 2 * (wru(bytes(entry)) + wru(bytes(workflow))),
            None => wru(bytes(entry)),
        };
        self.add(&entry.workflow_id, 1, units, 0);
        self.inner.record_feedback(entry, update).await
    }
    async fn replace_feedback(&self, entry: &FeedbackEntry) -> Result<(), StoreError> {
        self.add(&entry.workflow_id, 1, wru(bytes(entry)), 0);
        self.inner.replace_feedback(entry).await
    }
    async fn count_feedback(
        &self,
        workflow_id: &str,
        key_prefix: &str,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let n = self
            .inner
            .count_feedback(workflow_id, key_prefix, limit)
            .await?;
        // A Query with Select COUNT is billed by the size of the entries it reads.
        self.add(workflow_id, 1, 0, rru(n as u64 * 600));
        Ok(n)
    }
    async fn list_feedback(&self, workflow_id: &str) -> Result<Vec<FeedbackEntry>, StoreError> {
        let got = self.inner.list_feedback(workflow_id).await?;
        self.add(workflow_id, 1, 0, rru(got.iter().map(bytes).sum()));
        Ok(got)
    }
    async fn list_pending_deliveries(&self, limit: usize) -> Result<Vec<Workflow>, StoreError> {
        let got = self.inner.list_pending_deliveries(limit).await?;
        self.add("", 1, 0, rru(got.iter().map(bytes).sum()));
        Ok(got)
    }
    async fn list_due_notifications(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<Workflow>, StoreError> {
        let got = self.inner.list_due_notifications(now, limit).await?;
        self.add("", 1, 0, rru(got.iter().map(bytes).sum()));
        Ok(got)
    }
    async fn list_by_status(
        &self,
        status: WorkflowStatus,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Workflow>, StoreError> {
        let got = self.inner.list_by_status(status, limit, cursor).await?;
        self.add("", 1, 0, rru(got.items.iter().map(bytes).sum()));
        Ok(got)
    }
}

/// What one workflow used.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WorkflowCost {
    /// State transitions of its execution (plus its share of the batch execution's).
    pub transitions: f64,
    /// Lambda invocations (likewise).
    pub invocations: f64,
    /// DynamoDB usage.
    pub dynamo: Usage,
}

impl WorkflowCost {
    /// USD, by part: (Step Functions, Lambda, DynamoDB).
    pub fn usd(&self) -> (f64, f64, f64) {
        (
            self.transitions * PRICE_TRANSITION,
            self.invocations
                * (PRICE_LAMBDA_REQUEST + LAMBDA_MEMORY_GB * LAMBDA_SECONDS * PRICE_LAMBDA_GB_S),
            self.dynamo.wru as f64 * PRICE_WRU + self.dynamo.rru as f64 * PRICE_RRU,
        )
    }
}

fn count(history: &[HistoryEvent], suffix: &str) -> usize {
    history
        .iter()
        .filter(|e| e.event_type.as_str().ends_with(suffix))
        .count()
}

/// The definition before issue 16 (escalation ended the execution; a request-changes round
/// had `NextIteration` and `RegenerationProgress`): the baseline, run with today's functions.
pub fn definition_before_issue_16() -> Result<String> {
    Ok(std::fs::read_to_string(
        crate::workspace_root().join("benches/asl/definition-before-issue-16.asl.json"),
    )?)
}

/// Runs a smoke batch of three (one workflow per scenario) at `max_iterations` on
/// `definition`; the cost of each scenario's workflow that finished approved or resolved.
pub async fn smoke_costs(
    max_iterations: u32,
    definition: &str,
) -> Result<HashMap<SmokeScenario, (u32, WorkflowCost)>> {
    let counting: Arc<Mutex<Option<Arc<CountingStore>>>> = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&counting);
    let runtime = Runtime::open_with_store_layer(
        None,
        Arc::new(LocalGenerator),
        &move |inner| {
            let store = Arc::new(CountingStore::new(inner));
            if let Ok(mut s) = slot.lock() {
                *s = Some(Arc::clone(&store));
            }
            store
        },
        definition,
    )?;
    let store = counting
        .lock()
        .ok()
        .and_then(|s| s.clone())
        .ok_or_else(|| anyhow!("the store layer was not applied"))?;
    let request_id = format!("cost-{max_iterations}");
    let batch = 3;
    let input = json!({"action": "start_workflow", "smoke": true, "request_id": request_id,
        "config": {"max_iterations": max_iterations, "batch_size": batch}});
    runtime
        .engine
        .start_execution(&runtime.state_machine_arn, Some(&request_id), input)
        .await?;
    while runtime.settle().await? > 0 {}
    let executions = runtime.engine.list_executions(None, None)?;
    ensure!(
        executions.len() == batch + 1,
        "{} executions",
        executions.len()
    );
    let mut by_arn = HashMap::new();
    for e in &executions {
        by_arn.insert(
            e.execution_arn.clone(),
            runtime.engine.get_execution_history(&e.execution_arn)?,
        );
    }
    let parent = executions
        .iter()
        .find(|e| e.name == request_id)
        .ok_or_else(|| anyhow!("no batch execution"))?;
    let parent_history = &by_arn[&parent.execution_arn];
    let share = |suffix: &str| count(parent_history, suffix) as f64 / batch as f64;
    let mut out = HashMap::new();
    for status in [WorkflowStatus::Approved, WorkflowStatus::Resolved] {
        for wf in runtime.store.list_by_status(status, 100, None).await?.items {
            let (Some(scenario), Some(arn)) = (wf.smoke, wf.execution_arn.as_ref()) else {
                continue;
            };
            let history = &by_arn[arn];
            out.insert(
                scenario,
                (
                    wf.iteration,
                    WorkflowCost {
                        transitions: count(history, "StateEntered") as f64 + share("StateEntered"),
                        invocations: count(history, "TaskScheduled") as f64
                            + share("TaskScheduled"),
                        dynamo: store.usage(&wf.id),
                    },
                ),
            );
        }
    }
    ensure!(!out.is_empty(), "no scenario finished");
    Ok(out)
}

/// Section 7 rows.
pub async fn measure(log: &dyn Fn(&str)) -> Result<Vec<Row>> {
    let now = statemachine::DEFINITION;
    let before = definition_before_issue_16()?;
    let at3 = smoke_costs(3, now).await?;
    let at6 = smoke_costs(6, now).await?;
    let at10 = smoke_costs(10, now).await?;
    let before3 = smoke_costs(3, &before).await?;
    let before6 = smoke_costs(6, &before).await?;
    let revisions = SmokeScenario::ApproveAfterRevisions;
    // Whole transitions per iteration (the shares of the batch execution cancel out).
    let per_iteration = |a: &HashMap<SmokeScenario, (u32, WorkflowCost)>,
                         b: &HashMap<SmokeScenario, (u32, WorkflowCost)>| {
        ((b[&revisions].1.transitions - a[&revisions].1.transitions) / (6.0 - 3.0)).round()
    };
    let mut rows = vec![Row {
        section: "7 cost".into(),
        metric: "state transitions per request-changes iteration".into(),
        value: per_iteration(&at3, &at6),
        unit: "transitions".into(),
        baseline_name: "the definition before issue 16, same functions, same run".into(),
        baseline: Some(per_iteration(&before3, &before6)),
        target: Target::AtMost(5.0),
        note: format!(
            "approved after 3 iterations: {:.1} transitions (before: {:.1}); after 6: {:.1} (before: {:.1})",
            at3[&revisions].1.transitions,
            before3[&revisions].1.transitions,
            at6[&revisions].1.transitions,
            before6[&revisions].1.transitions
        ),
    }];
    for (label, (iterations, cost)) in [
        ("approved after 3 iterations", at3[&revisions]),
        (
            "escalated at the limit (10), then resolved",
            at10[&SmokeScenario::EscalateAtLimit],
        ),
    ] {
        let (sfn, lambda, dynamo) = cost.usd();
        let total = (sfn + lambda + dynamo) * 1000.0;
        log(&format!(
            "  {label}: {} transitions, {} invocations, {} DynamoDB requests ({} WRU, {} RRU)",
            cost.transitions,
            cost.invocations,
            cost.dynamo.requests,
            cost.dynamo.wru,
            cost.dynamo.rru
        ));
        rows.push(Row {
            section: "7 cost".into(),
            metric: format!("USD per 1,000 workflows, {label}"),
            value: total,
            unit: "USD".into(),
            baseline_name: String::new(),
            baseline: None,
            target: Target::Info,
            note: format!(
                "iteration {iterations}: {:.1} transitions (${:.3}), {:.1} Lambda invocations (${:.4} at {} MB, {} ms each), {} DynamoDB requests, {} WRU + {} RRU (${:.4}); prices: $0.025/1,000 transitions, $0.20/M requests + $0.0000133334/GB-s arm64, $0.625/M WRU, $0.125/M RRU (on-demand, us-east-1 list prices)",
                cost.transitions,
                sfn * 1000.0,
                cost.invocations,
                lambda * 1000.0,
                (LAMBDA_MEMORY_GB * 1000.0) as u32,
                (LAMBDA_SECONDS * 1000.0) as u32,
                cost.dynamo.requests,
                cost.dynamo.wru,
                cost.dynamo.rru,
                dynamo * 1000.0
            ),
        });
    }
    Ok(rows)
}
