//! The DynamoDB floor of section 2: the exact requests the DynamoDB store sends for the event
//! mix (seven per workflow: BatchGetItem + TransactWriteItems for the accepted decision,
//! BatchGetItem for its duplicate, BatchGetItem + PutItem for the stale and for the late
//! submission), issued through `aws-sdk-dynamodb` with every item built before the clock
//! starts: no validation, no rules, no JSON of records. What is left is the SDK's per-request
//! pipeline (builders, endpoint, signing, HTTP, response parsing) and the kernel's share of
//! loopback TCP: the CPU any implementation on the official SDK pays for these requests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnConsumedCapacity, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use hitl_domain::store::WorkflowStore;
use hitl_sqlite::SqliteStore;

use crate::feedback_cpu::{bench_submitter, event_kinds, like_a_function, Pass};

type Item = HashMap<String, AttributeValue>;

/// The `record` bodies of the three entries one workflow's event mix writes (accepted,
/// stale, late, in that order), as the real processor produces them, so the floor's writes carry bodies of
/// the real size.
async fn entry_records() -> Result<Vec<String>> {
    let store: Arc<dyn WorkflowStore> = Arc::new(SqliteStore::in_memory()?);
    let id = "floor-sample-00000";
    crate::fixtures::seed(
        Arc::clone(&store),
        &[id.to_owned()],
        crate::fixtures::awaiting_review,
        1,
    )
    .await?;
    let (processor, reviewer) = bench_submitter(Arc::clone(&store));
    for (key, request) in event_kinds(id) {
        processor.submit(id, &request, &key, &reviewer).await?;
    }
    let entries = store.list_feedback(id).await?;
    // In event order: the accepted one (event 0), the stale one (2), the late one (3).
    [0usize, 2, 3]
        .into_iter()
        .map(|i| {
            let wanted = &event_kinds(id)[i].0;
            let entry = entries
                .iter()
                .find(|e| hitl_domain::feedback::client_key(&e.idempotency_key) == wanted)
                .with_context(|| format!("no entry {wanted} among {}", entries.len()))?;
            serde_json::to_string(entry).context("entry record")
        })
        .collect()
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn key(id: &str, sk: &str) -> Item {
    HashMap::from([
        ("PK".to_owned(), s(format!("WF#{id}"))),
        ("SK".to_owned(), s(sk)),
    ])
}

/// Everything one workflow's seven requests need, built before timing.
struct Prepared {
    id: String,
    /// BatchGetItem key sets, one per event.
    reads: [KeysAndAttributes; 4],
    /// The workflow item after the accepted decision (version + 1) and its expected version.
    workflow_after: Item,
    expected_version: String,
    /// The accepted, stale and late entry items.
    entries: [Item; 3],
}

async fn prepare(client: &Client, table: &str, ids: &[String]) -> Result<Vec<Prepared>> {
    let records = entry_records().await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let stored = client
            .get_item()
            .table_name(table)
            .set_key(Some(key(id, "META")))
            .consistent_read(true)
            .send()
            .await?
            .item
            .with_context(|| format!("seeded workflow {id} missing"))?;
        let version: u64 = stored
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .context("version attribute")?;
        let mut workflow_after = stored.clone();
        workflow_after.insert(
            "version".into(),
            AttributeValue::N((version + 1).to_string()),
        );
        let kinds = event_kinds(id);
        let read = |i: usize| -> Result<KeysAndAttributes> {
            Ok(KeysAndAttributes::builder()
                .keys(key(id, "META"))
                .keys(key(id, &format!("FB#{}", kinds[i].0)))
                .consistent_read(true)
                .build()?)
        };
        let entry = |i: usize, outcome: &str, record: &str| {
            let mut item = key(id, &format!("FB#{}", kinds[i].0));
            item.insert("received_at".into(), s("2026-03-02T09:00:00.000000Z"));
            item.insert("outcome".into(), s(outcome));
            item.insert("record".into(), s(record));
            item
        };
        out.push(Prepared {
            id: id.clone(),
            reads: [read(0)?, read(1)?, read(2)?, read(3)?],
            workflow_after,
            expected_version: version.to_string(),
            entries: [
                entry(0, "applied", &records[0]),
                entry(2, "rejected:stale_iteration", &records[1]),
                entry(3, "rejected:already_decided", &records[2]),
            ],
        });
    }
    Ok(out)
}

async fn batch_get(client: &Client, table: &str, keys: &KeysAndAttributes) -> Result<usize> {
    let out = client
        .batch_get_item()
        .request_items(table, keys.clone())
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await?;
    ensure!(
        out.unprocessed_keys.is_none_or(|u| u.is_empty()),
        "unprocessed keys"
    );
    Ok(out
        .responses
        .and_then(|mut r| r.remove(table))
        .map_or(0, |items| items.len()))
}

async fn put_new(client: &Client, table: &str, item: &Item) -> Result<()> {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item.clone()))
        .condition_expression("attribute_not_exists(PK)")
        .send()
        .await?;
    Ok(())
}

/// Runs the seven requests per workflow of `ids` (seeded with `awaiting_review` in `table`)
/// and returns the CPU they cost; the outcomes are counted as the processor would name them,
/// so [`Pass::check`] applies.
pub async fn floor_pass(client: &Client, table: &str, ids: &[String]) -> Result<Pass> {
    let prepared = prepare(client, table, ids).await?;
    let mut found = [0usize; 4];
    let cpu = crate::procfs::CpuMark::now();
    let t0 = Instant::now();
    for p in &prepared {
        // Accepted: read, then the version-checked workflow put + the new entry, one transaction.
        found[0] += batch_get(client, table, &p.reads[0]).await?;
        let workflow_put = Put::builder()
            .table_name(table)
            .set_item(Some(p.workflow_after.clone()))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(p.expected_version.clone()))
            .build()?;
        let entry_put = Put::builder()
            .table_name(table)
            .set_item(Some(p.entries[0].clone()))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(workflow_put).build())
            .transact_items(TransactWriteItem::builder().put(entry_put).build())
            .send()
            .await
            .with_context(|| format!("transaction for {}", p.id))?;
        // Duplicate: the read finds the entry.
        found[1] += batch_get(client, table, &p.reads[1]).await?;
        // Stale and late: read, then record the rejected attempt.
        found[2] += batch_get(client, table, &p.reads[2]).await?;
        put_new(client, table, &p.entries[1]).await?;
        found[3] += batch_get(client, table, &p.reads[3]).await?;
        put_new(client, table, &p.entries[2]).await?;
    }
    let wall_s = t0.elapsed().as_secs_f64();
    let (cpu_s, sys_s) = cpu.elapsed();
    // The reads must have seen what the processor would: the workflow alone, then workflow
    // and entry for the duplicate.
    let n = ids.len();
    ensure!(
        found == [n, 2 * n, n, n],
        "floor reads found {found:?} items for {n} workflows"
    );
    let outcomes = ["applied", "replayed", "stale_iteration", "already_decided"]
        .into_iter()
        .map(|name| (name.to_owned(), n))
        .collect();
    Ok(Pass {
        cpu_s,
        sys_s,
        wall_s,
        events: n * 4,
        outcomes,
    })
}

/// [`floor_pass`] [`like_a_function`], with its own SDK client built there.
pub async fn floor_pass_like_a_function(
    endpoint: &str,
    table: String,
    ids: Vec<String>,
) -> Result<Pass> {
    let endpoint = endpoint.to_string();
    like_a_function(move || async move {
        let sdk = crate::fixtures::local_sdk_config(&endpoint).await;
        floor_pass(&Client::new(&sdk), &table, &ids).await
    })
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn entry_records_come_in_event_order_with_their_outcomes() {
        let records = entry_records().await.unwrap();
        let outcome = |i: usize| {
            let v: serde_json::Value = serde_json::from_str(&records[i]).unwrap();
            (
                v["idempotency_key"].as_str().unwrap().to_owned(),
                v["outcome"].to_string(),
            )
        };
        let (key, out) = outcome(0);
        assert!(key.ends_with("-2-changes"), "{key}");
        assert!(out.contains("applied"), "{out}");
        let (key, out) = outcome(1);
        assert!(key.ends_with("-1-late"), "{key}");
        assert!(out.contains("stale_iteration"), "{out}");
        let (key, out) = outcome(2);
        assert!(key.ends_with("-2-approve"), "{key}");
        assert!(out.contains("already_decided"), "{out}");
    }
}
