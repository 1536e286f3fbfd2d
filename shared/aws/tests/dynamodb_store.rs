//! The store contract suite against DynamoDB Local (the official emulator), including the
//! 50-writer concurrency check on real conditional writes and transactions.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use hitl_aws::dynamodb::DynamoStore;
use hitl_domain::store::contract;
use hitl_domain::store::WorkflowStore;
use support::DynamoDbLocal;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_adapter_passes_the_store_contract() {
    let local = DynamoDbLocal::start();
    let sdk = local.sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), "hitl-contract");
    store.create_table().await.unwrap();
    let store: Arc<dyn WorkflowStore> = Arc::new(store);
    contract::run_all(store).await;
}
