//! Lambda entry point of `feedback-api`: wiring only.

use std::sync::Arc;

use hitl_api::JwtClaims;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Lambda sends one invocation at a time per execution environment: one thread does.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let sdk = hitl_aws::lambda_config()?;
    let app = feedback_api::app(
        Arc::new(hitl_aws::dynamo_store(&sdk)?),
        Arc::new(hitl_aws::sfn_resumer(&sdk)),
        Arc::new(hitl_domain::ports::SystemClock),
        JwtClaims::from_env(),
    );
    lambda_http::run(app).await
}
