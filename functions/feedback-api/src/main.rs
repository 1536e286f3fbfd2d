//! Lambda entry point of `feedback-api`: wiring only.

use std::sync::Arc;

use hitl_api::JwtClaims;

#[global_allocator]
static ALLOC: hitl_shared::Allocator = hitl_shared::Allocator;

// Lambda sends one invocation at a time per execution environment: one thread does.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let sdk = hitl_shared::aws::lambda_config()?;
    let app = feedback_api::app(
        Arc::new(hitl_shared::aws::dynamo_store(&sdk)?),
        Arc::new(hitl_shared::aws::sfn_resumer(&sdk)),
        Arc::new(hitl_shared::ports::SystemClock),
        JwtClaims::from_env(),
    );
    lambda_http::run(app).await
}
