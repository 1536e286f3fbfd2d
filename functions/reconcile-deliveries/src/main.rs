//! Lambda entry point of `reconcile-deliveries`: wiring only.

use std::sync::Arc;

use lambda_runtime::{tracing, Error};
use reconcile_deliveries::{handle, Deps};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Lambda sends one invocation at a time per execution environment: one thread does.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let sdk = hitl_aws::lambda_config()?;
    let deps = Deps {
        store: Arc::new(hitl_aws::dynamo_store(&sdk)?),
        resumer: Arc::new(hitl_aws::sfn_resumer(&sdk)),
        clock: Arc::new(hitl_domain::ports::SystemClock),
        notifier: Arc::new(hitl_aws::sns_notifier(
            &sdk,
            hitl_aws::config::REVIEW_TOPIC_ARN,
        )?),
        escalation_notifier: Arc::new(hitl_aws::sns_notifier(
            &sdk,
            hitl_aws::config::ESCALATION_TOPIC_ARN,
        )?),
        page_url: hitl_aws::config::optional(hitl_aws::config::REVIEW_PAGE_URL),
    };
    hitl_aws::lambda::serve(
        deps,
        |deps, event| async move { handle(&deps, event).await },
    )
    .await
}
