//! Lambda entry point of `publish-outcome`: wiring only.

use std::sync::Arc;

use lambda_runtime::{tracing, Error};
use publish_outcome::{handle, Deps};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Lambda sends one invocation at a time per execution environment: one thread does.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let sdk = hitl_aws::lambda_config()?;
    let deps = Deps {
        store: Arc::new(hitl_aws::dynamo_store(&sdk)?),
        publisher: Arc::new(hitl_aws::outcome_publisher(&sdk)?),
        environment: hitl_aws::config::required(hitl_aws::config::ENVIRONMENT)?,
    };
    hitl_aws::lambda::serve(
        deps,
        |deps, event| async move { handle(&deps, event).await },
    )
    .await
}
