//! Section 3: DynamoDB requests per feedback event, counted by an SDK interceptor on the
//! client the store uses (every transmitted attempt, per operation), with the
//! `ConsumedCapacity` DynamoDB returned when the request asked for it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::{ensure, Result};
use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use hitl_domain::feedback::FeedbackRequest;
use hitl_domain::store::WorkflowStore;

use crate::report::{Row, Target};

/// One transmitted request.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Operation (`BatchGetItem`, `TransactWriteItems`, …) from `X-Amz-Target`.
    pub operation: String,
    /// Total `CapacityUnits` in the response's `ConsumedCapacity`, when present.
    pub consumed: Option<f64>,
}

/// Counts requests per operation.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl RequestCounter {
    /// Takes (and clears) the calls recorded so far.
    pub fn take(&self) -> Vec<Call> {
        self.calls
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }
}

/// Sum of `CapacityUnits` in a DynamoDB JSON response body (object or list form).
pub fn consumed_capacity(body: &[u8]) -> Option<f64> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let consumed = value.get("ConsumedCapacity")?;
    let units = |v: &serde_json::Value| v.get("CapacityUnits").and_then(serde_json::Value::as_f64);
    match consumed {
        serde_json::Value::Array(items) => Some(items.iter().filter_map(units).sum()),
        other => units(other),
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "hitl-bench-request-counter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(Call {
                operation,
                consumed: None,
            });
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let consumed = context
            .response()
            .body()
            .bytes()
            .and_then(consumed_capacity);
        if let Ok(mut calls) = self.calls.lock() {
            if let Some(last) = calls.last_mut() {
                last.consumed = consumed;
            }
        }
        Ok(())
    }
}

fn describe(calls: &[Call]) -> String {
    let mut per_op: BTreeMap<&str, usize> = BTreeMap::new();
    for call in calls {
        *per_op.entry(call.operation.as_str()).or_default() += 1;
    }
    let ops: Vec<String> = per_op.iter().map(|(op, n)| format!("{n}× {op}")).collect();
    let capacity: Vec<String> = calls
        .iter()
        .map(|c| match c.consumed {
            Some(units) => format!("{}: {units} CU", c.operation),
            None => format!("{}: not returned", c.operation),
        })
        .collect();
    format!(
        "{}; ConsumedCapacity {}",
        ops.join(" + "),
        capacity.join(", ")
    )
}

/// Runs the accepted / duplicate / stale / already-decided cases on a fresh table and counts.
pub async fn measure(sdk: &aws_config::SdkConfig) -> Result<Vec<Row>> {
    let counter = RequestCounter::default();
    let store: Arc<dyn WorkflowStore> = Arc::new(
        crate::fixtures::dynamo_table(sdk, "bench-requests", Some(counter.clone())).await?,
    );
    let id = "wf-req-1".to_owned();
    store
        .create_workflow(&crate::fixtures::awaiting_review(&id))
        .await?;
    counter.take();
    let (processor, reviewer) = crate::feedback_cpu::bench_submitter(Arc::clone(&store));
    let cases = crate::feedback_cpu::event_kinds(&id);
    let mut rows = Vec::new();
    for (label, request, key, limit, expect) in [
        (
            "accepted decision",
            &cases[0].1,
            &cases[0].0,
            2.0,
            "applied",
        ),
        (
            "duplicate (same key, same body)",
            &cases[1].1,
            &cases[1].0,
            1.0,
            "replayed",
        ),
        (
            "stale iteration",
            &cases[2].1,
            &cases[2].0,
            2.0,
            "stale_iteration",
        ),
        (
            "late (iteration already decided)",
            &cases[3].1,
            &cases[3].0,
            2.0,
            "already_decided",
        ),
    ] {
        let request: &FeedbackRequest = request;
        let receipt = processor.submit(&id, request, key, &reviewer).await?;
        let outcome = crate::feedback_cpu::outcome_name(&receipt);
        ensure!(
            outcome == expect,
            "{label}: expected {expect}, got {outcome}"
        );
        let calls = counter.take();
        rows.push(Row {
            section: "3 requests".into(),
            metric: format!("DynamoDB requests per {label}"),
            value: calls.len() as f64,
            unit: "req".into(),
            baseline_name: String::new(),
            baseline: None,
            target: Target::AtMost(limit),
            note: describe(&calls),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_consumed_capacity_in_both_shapes() {
        assert_eq!(
            consumed_capacity(br#"{"ConsumedCapacity":[{"TableName":"t","CapacityUnits":1.5},{"CapacityUnits":0.5}]}"#),
            Some(2.0)
        );
        assert_eq!(
            consumed_capacity(br#"{"ConsumedCapacity":{"CapacityUnits":1.0}}"#),
            Some(1.0)
        );
        assert_eq!(consumed_capacity(b"{}"), None);
        let calls = vec![
            Call {
                operation: "BatchGetItem".into(),
                consumed: Some(1.0),
            },
            Call {
                operation: "TransactWriteItems".into(),
                consumed: None,
            },
        ];
        assert!(describe(&calls).starts_with("1× BatchGetItem + 1× TransactWriteItems"));
    }
}
