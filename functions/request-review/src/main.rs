//! Lambda entry point of `request-review`: wiring only.

use std::sync::Arc;

use lambda_runtime::{tracing, Error};
use request_review::{handle, Deps};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Lambda sends one invocation at a time per execution environment: one thread does.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let sdk = hitl_aws::lambda_config()?;
    let deps = Deps {
        metrics: Arc::new(hitl_aws::metrics::EmfStdout),
        store: Arc::new(hitl_aws::dynamo_store(&sdk)?),
        notifier: Arc::new(hitl_aws::sns_notifier(
            &sdk,
            hitl_aws::config::REVIEW_TOPIC_ARN,
        )?),
        resumer: Arc::new(hitl_aws::sfn_resumer(&sdk)),
        clock: Arc::new(hitl_domain::ports::SystemClock),
    };
    hitl_aws::lambda::serve(
        deps,
        |deps, event| async move { handle(&deps, event).await },
    )
    .await
}
