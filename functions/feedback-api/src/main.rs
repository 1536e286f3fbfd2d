//! Lambda entry point of `feedback-api`: its ports, the router over them, and the HTTP adapter.

use hitl_api::JwtClaims;
use hitl_aws::lambda::wire;

#[global_allocator]
static ALLOC: hitl_aws::lambda::MiMalloc = hitl_aws::lambda::MiMalloc;

fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    // Lambda sends one invocation at a time per execution environment: one thread does.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let sdk = hitl_aws::lambda_config()?;
    let ports = wire::types(&sdk, wire::resumer(&sdk, wire::base(&sdk)?)?)?;
    let app = feedback_api::app(ports, JwtClaims::from_env());
    runtime.block_on(lambda_http::run(app))
}
