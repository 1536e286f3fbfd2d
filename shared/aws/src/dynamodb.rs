//! DynamoDB adapter: single-table design.
//!
//! | item | PK | SK | other attributes |
//! |---|---|---|---|
//! | workflow | `WF#<id>` | `META` | `GSI1PK`=`STATUS#<status>`, `GSI1SK`=`<updated_at>#<id>`, `status`, `iteration`, `version`, `subject_id`, `updated_at`, `expires_at` (TTL, terminal only), `record` (JSON) |
//! | artifact | `WF#<id>` | `ART#<iteration:04>` | `hash`, `record` (JSON) |
//! | feedback | `WF#<id>` | `FB#<idempotency key>` | `received_at`, `outcome`, `record` (JSON) |
//!
//! GSI `GSI1` (`GSI1PK`, `GSI1SK`, projection ALL) lists workflows by status, newest first.
//! GSI `GSI2` (`GSI2PK`, `GSI2SK`, projection ALL) is sparse: a workflow item carries
//! `GSI2PK`=`DELIVERY#PENDING` only while it is in the outbox (a decision waits for delivery, or
//! a notification for a channel), with `GSI2SK` = [`Workflow::outbox_key`] (`D#<updated_at>#<id>`
//! for a decision, `N#<due>#<id>` for notifications only), so the reconciler reads exactly
//! those, decisions first, and the notification relay reads the `N#` range up to now.
//! Every write is conditional; `ConditionalCheckFailedException` becomes
//! [`StoreError::Conflict`] (version moved) or [`StoreError::Duplicate`] (key taken).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, Put, ReturnConsumedCapacity,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

use hitl_domain::model::{Artifact, FeedbackEntry, FeedbackOutcome, Workflow, WorkflowStatus};
use hitl_domain::store::{CreateOutcome, FeedbackContext, Page, StoreError, WorkflowStore};

/// Name of the status index.
pub const STATUS_INDEX: &str = "GSI1";
/// The sparse index of workflows with a decision awaiting delivery.
pub const PENDING_DELIVERY_INDEX: &str = "GSI2";
/// `GSI2PK` of a workflow whose decision awaits delivery.
const PENDING_DELIVERY: &str = "DELIVERY#PENDING";
/// Finished workflows expire this many days after completion (DynamoDB TTL).
pub const RETENTION_DAYS: i64 = 365;

type Item = HashMap<String, AttributeValue>;

/// DynamoDB-backed [`WorkflowStore`].
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn pk(id: &str) -> String {
    format!("WF#{id}")
}
const META: &str = "META";
fn artifact_sk(iteration: u32) -> String {
    format!("ART#{iteration:04}")
}
fn feedback_sk(key: &str) -> String {
    format!("FB#{key}")
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}
fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk_value: String, sk_value: String) -> Item {
    HashMap::from([
        ("PK".to_owned(), s(pk_value)),
        ("SK".to_owned(), s(sk_value)),
    ])
}

fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("encode: {e}")))
}

fn record_of<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let describe = || {
        format!(
            "{}/{}",
            item.get("PK")
                .and_then(|v| v.as_s().ok())
                .map_or("?", |v| v),
            item.get("SK")
                .and_then(|v| v.as_s().ok())
                .map_or("?", |v| v)
        )
    };
    let body = item
        .get("record")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt {
            key: describe(),
            message: "missing `record` attribute".into(),
        })?;
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        key: describe(),
        message: e.to_string(),
    })
}

fn workflow_item(workflow: &Workflow) -> Result<Item, StoreError> {
    let updated = workflow
        .updated_at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut item = key(pk(&workflow.id), META.to_owned());
    item.insert(
        "GSI1PK".into(),
        s(format!("STATUS#{}", workflow.status.as_str())),
    );
    item.insert("GSI1SK".into(), s(format!("{updated}#{}", workflow.id)));
    if let Some(outbox_key) = workflow.outbox_key() {
        item.insert("GSI2PK".into(), s(PENDING_DELIVERY));
        item.insert("GSI2SK".into(), s(outbox_key));
    }
    item.insert("status".into(), s(workflow.status.as_str()));
    item.insert("iteration".into(), n(workflow.iteration));
    item.insert("version".into(), n(workflow.version));
    item.insert("subject_id".into(), s(workflow.subject.id.clone()));
    item.insert("updated_at".into(), s(updated));
    if let Some(done) = workflow.completed_at {
        let expires = done + chrono::Duration::days(RETENTION_DAYS);
        item.insert("expires_at".into(), n(expires.timestamp()));
    }
    item.insert("record".into(), s(to_json(workflow)?));
    Ok(item)
}

fn feedback_item(entry: &FeedbackEntry) -> Result<Item, StoreError> {
    let mut item = key(pk(&entry.workflow_id), feedback_sk(&entry.idempotency_key));
    item.insert(
        "received_at".into(),
        s(entry
            .received_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
    );
    let outcome = match &entry.outcome {
        FeedbackOutcome::Applied { .. } => "applied".to_owned(),
        FeedbackOutcome::Rejected { reason, .. } => format!("rejected:{reason}"),
    };
    item.insert("outcome".into(), s(outcome));
    item.insert("record".into(), s(to_json(entry)?));
    Ok(item)
}

fn sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    let code = err.code().map(str::to_owned);
    let message = format!(
        "{}: {}",
        code.as_deref().unwrap_or("unknown"),
        aws_sdk_dynamodb::error::DisplayErrorContext(&err)
    );
    match code.as_deref() {
        Some(
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded",
        ) => StoreError::Throttled(message),
        _ => StoreError::Backend(message),
    }
}

/// Classifies a service error (after `into_service_error`) by its AWS error code.
fn service_error<E>(err: E) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata,
{
    let code = err.code().unwrap_or("unknown").to_owned();
    let message = format!(
        "{code}: {}",
        aws_sdk_dynamodb::error::DisplayErrorContext(&err)
    );
    match code.as_str() {
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded" => StoreError::Throttled(message),
        _ => StoreError::Backend(message),
    }
}

impl DynamoStore {
    /// Wraps a client built once at cold start.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table with the documented key schema and status index (on-demand).
    /// Used by tests and `hitl` against DynamoDB Local; on AWS the template creates it.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))
        };
        let key_el = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))
        };
        let index = |name: &str, hash: &str, range: &str| {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key_el(hash, KeyType::Hash)?)
                .key_schema(key_el(range, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))
        };
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("PK")?)
            .attribute_definitions(attr("SK")?)
            .attribute_definitions(attr("GSI1PK")?)
            .attribute_definitions(attr("GSI1SK")?)
            .attribute_definitions(attr("GSI2PK")?)
            .attribute_definitions(attr("GSI2SK")?)
            .key_schema(key_el("PK", KeyType::Hash)?)
            .key_schema(key_el("SK", KeyType::Range)?)
            .global_secondary_indexes(index(STATUS_INDEX, "GSI1PK", "GSI1SK")?)
            .global_secondary_indexes(index(PENDING_DELIVERY_INDEX, "GSI2PK", "GSI2SK")?)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn get_item(
        &self,
        pk_value: String,
        sk_value: String,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk_value, sk_value)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }

    /// A consistent query of one workflow's items whose sort key starts with `prefix`.
    fn prefix_query(
        &self,
        workflow_id: &str,
        prefix: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(pk(workflow_id)))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
    }

    async fn query_prefix(&self, workflow_id: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .prefix_query(workflow_id, prefix)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }
}

fn encode_cursor(key: &Item) -> String {
    let plain: HashMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|v| (k.as_str(), v.as_str())))
        .collect();
    hex::encode(serde_json::to_vec(&plain).unwrap_or_default())
}

fn decode_cursor(cursor: &str) -> Result<Item, StoreError> {
    let bytes = hex::decode(cursor).map_err(|_| StoreError::Backend("malformed cursor".into()))?;
    let plain: HashMap<String, String> = serde_json::from_slice(&bytes)
        .map_err(|_| StoreError::Backend("malformed cursor".into()))?;
    Ok(plain.into_iter().map(|(k, v)| (k, s(v))).collect())
}

#[async_trait]
impl WorkflowStore for DynamoStore {
    async fn create_workflow(&self, workflow: &Workflow) -> Result<CreateOutcome, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(workflow_item(workflow)?))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(e) => {
                    let existing = match e.item {
                        Some(item) => record_of(&item)?,
                        None => self
                            .get_workflow(&workflow.id)
                            .await?
                            .ok_or_else(|| StoreError::Conflict(workflow.id.clone()))?,
                    };
                    Ok(CreateOutcome::Existing(Box::new(existing)))
                }
                other => Err(service_error(other)),
            },
        }
    }

    async fn get_workflow(&self, id: &str) -> Result<Option<Workflow>, StoreError> {
        self.get_item(pk(id), META.to_owned())
            .await?
            .map(|item| record_of(&item))
            .transpose()
    }

    async fn update_workflow(
        &self,
        workflow: &Workflow,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(workflow_item(workflow)?))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", n(expected_version))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(e) => match e.item {
                    Some(_) => Err(StoreError::Conflict(workflow.id.clone())),
                    None => Err(StoreError::NotFound(workflow.id.clone())),
                },
                other => Err(service_error(other)),
            },
        }
    }

    async fn put_artifact(&self, workflow_id: &str, artifact: &Artifact) -> Result<(), StoreError> {
        let mut item = key(pk(workflow_id), artifact_sk(artifact.iteration));
        item.insert("hash".into(), s(artifact.hash.clone()));
        item.insert("record".into(), s(to_json(artifact)?));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK) OR #hash = :hash")
            .expression_attribute_names("#hash", "hash")
            .expression_attribute_values(":hash", s(artifact.hash.clone()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Err(StoreError::Duplicate(
                    format!("artifact {workflow_id}#{}", artifact.iteration),
                )),
                other => Err(service_error(other)),
            },
        }
    }

    async fn get_artifact(
        &self,
        workflow_id: &str,
        iteration: u32,
    ) -> Result<Option<Artifact>, StoreError> {
        self.get_item(pk(workflow_id), artifact_sk(iteration))
            .await?
            .map(|item| record_of(&item))
            .transpose()
    }

    async fn list_artifacts(&self, workflow_id: &str) -> Result<Vec<Artifact>, StoreError> {
        self.query_prefix(workflow_id, "ART#")
            .await?
            .iter()
            .map(record_of)
            .collect()
    }

    async fn load_feedback_context(
        &self,
        workflow_id: &str,
        idempotency_key: &str,
    ) -> Result<FeedbackContext, StoreError> {
        let mut request = KeysAndAttributes::builder()
            .keys(key(pk(workflow_id), META.to_owned()))
            .keys(key(pk(workflow_id), feedback_sk(idempotency_key)))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut found: Vec<Item> = Vec::new();
        for attempt in 0..5u32 {
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request.clone())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|err| match err.into_service_error() {
                    BatchGetItemError::ProvisionedThroughputExceededException(e) => {
                        StoreError::Throttled(e.to_string())
                    }
                    other => service_error(other),
                })?;
            if let Some(mut responses) = out.responses {
                found.extend(responses.remove(&self.table).unwrap_or_default());
            }
            match out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                Some(rest) if !rest.keys().is_empty() => {
                    request = rest;
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                }
                _ => break,
            }
        }
        let mut context = FeedbackContext {
            workflow: None,
            existing_entry: None,
        };
        for item in &found {
            match item
                .get("SK")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
            {
                Some(META) => context.workflow = Some(record_of(item)?),
                Some(_) => context.existing_entry = Some(record_of(item)?),
                None => {}
            }
        }
        Ok(context)
    }

    async fn record_feedback(
        &self,
        entry: &FeedbackEntry,
        update: Option<(&Workflow, u64)>,
    ) -> Result<(), StoreError> {
        let entry_item = feedback_item(entry)?;
        let Some((workflow, expected)) = update else {
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(entry_item))
                .condition_expression("attribute_not_exists(PK)")
                .send()
                .await;
            return match result {
                Ok(_) => Ok(()),
                Err(err) => match err.into_service_error() {
                    PutItemError::ConditionalCheckFailedException(_) => {
                        Err(StoreError::Duplicate(entry.idempotency_key.clone()))
                    }
                    other => Err(service_error(other)),
                },
            };
        };
        let build = |put: aws_sdk_dynamodb::types::builders::PutBuilder| {
            put.build()
                .map(|p: Put| TransactWriteItem::builder().put(p).build())
                .map_err(|e| StoreError::Backend(e.to_string()))
        };
        let update_put = build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(workflow_item(workflow)?))
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(expected)),
        )?;
        let entry_put = build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(entry_item))
                .condition_expression("attribute_not_exists(PK)"),
        )?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(update_put)
            .transact_items(entry_put)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                TransactWriteItemsError::TransactionCanceledException(e) => {
                    let reasons: Vec<Option<String>> = e
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().map(str::to_owned))
                        .collect();
                    let failed = |i: usize| {
                        reasons
                            .get(i)
                            .and_then(|c| c.as_deref())
                            .is_some_and(|c| c == "ConditionalCheckFailed")
                    };
                    if failed(1) {
                        Err(StoreError::Duplicate(entry.idempotency_key.clone()))
                    } else if failed(0)
                        || reasons
                            .iter()
                            .flatten()
                            .any(|c| c == "TransactionConflict" || c == "ThrottlingError")
                    {
                        // The version moved, or a concurrent transaction touched the item:
                        // either way the caller re-reads and re-applies.
                        Err(StoreError::Conflict(workflow.id.clone()))
                    } else {
                        Err(StoreError::Backend(format!(
                            "transaction cancelled: {reasons:?}"
                        )))
                    }
                }
                TransactWriteItemsError::TransactionInProgressException(_) => {
                    Err(StoreError::Conflict(workflow.id.clone()))
                }
                other => Err(service_error(other)),
            },
        }
    }

    async fn replace_feedback(&self, entry: &FeedbackEntry) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(feedback_item(entry)?))
            .condition_expression("attribute_exists(PK)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Err(StoreError::NotFound(
                    format!("{}#{}", entry.workflow_id, entry.idempotency_key),
                )),
                other => Err(service_error(other)),
            },
        }
    }

    async fn list_feedback(&self, workflow_id: &str) -> Result<Vec<FeedbackEntry>, StoreError> {
        let mut entries: Vec<FeedbackEntry> = self
            .query_prefix(workflow_id, "FB#")
            .await?
            .iter()
            .map(record_of)
            .collect::<Result<_, _>>()?;
        entries.sort_by(|a, b| {
            a.received_at
                .cmp(&b.received_at)
                .then_with(|| a.idempotency_key.cmp(&b.idempotency_key))
        });
        Ok(entries)
    }

    async fn count_feedback(
        &self,
        workflow_id: &str,
        key_prefix: &str,
        limit: usize,
    ) -> Result<usize, StoreError> {
        // Select COUNT with Limit: DynamoDB stops reading after `limit` items, so the cost is
        // bounded by the cap, not by the trail's size.
        let out = self
            .prefix_query(workflow_id, &feedback_sk(key_prefix))
            .select(aws_sdk_dynamodb::types::Select::Count)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(usize::try_from(out.count).unwrap_or(0).min(limit))
    }

    async fn list_pending_deliveries(&self, limit: usize) -> Result<Vec<Workflow>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PENDING_DELIVERY_INDEX)
            .key_condition_expression("GSI2PK = :pending")
            .expression_attribute_values(":pending", s(PENDING_DELIVERY))
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(sdk_error)?;
        out.items
            .unwrap_or_default()
            .iter()
            .map(record_of)
            .collect()
    }

    async fn list_due_notifications(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<Workflow>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PENDING_DELIVERY_INDEX)
            .key_condition_expression("GSI2PK = :pending AND GSI2SK BETWEEN :from AND :to")
            .expression_attribute_values(":pending", s(PENDING_DELIVERY))
            .expression_attribute_values(":from", s(hitl_domain::model::OUTBOX_NOTIFICATIONS))
            .expression_attribute_values(":to", s(Workflow::due_notifications_bound(now)))
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(sdk_error)?;
        out.items
            .unwrap_or_default()
            .iter()
            .map(record_of)
            .collect()
    }

    async fn list_by_status(
        &self,
        status: WorkflowStatus,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Workflow>, StoreError> {
        let start = cursor.map(decode_cursor).transpose()?;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(STATUS_INDEX)
            .key_condition_expression("GSI1PK = :status")
            .expression_attribute_values(":status", s(format!("STATUS#{}", status.as_str())))
            .scan_index_forward(false)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        let items = out
            .items
            .unwrap_or_default()
            .iter()
            .map(record_of)
            .collect::<Result<Vec<Workflow>, _>>()?;
        let next_cursor = out
            .last_evaluated_key
            .filter(|k| !k.is_empty())
            .map(|k| encode_cursor(&k));
        Ok(Page { items, next_cursor })
    }
}
