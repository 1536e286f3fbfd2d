//! Lambda entry point of `iteration-check`: wiring only.

use std::sync::Arc;

use iteration_check::{handle, Deps};
use lambda_runtime::{tracing, Error};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Lambda sends one invocation at a time per execution environment: one thread does.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let sdk = hitl_aws::lambda_config()?;
    let deps = Deps {
        store: Arc::new(hitl_aws::dynamo_store(&sdk)?),
        clock: Arc::new(hitl_domain::ports::SystemClock),
    };
    hitl_aws::lambda::serve(
        deps,
        |deps, event| async move { handle(&deps, event).await },
    )
    .await
}
