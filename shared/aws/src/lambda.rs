//! How a Lambda function runs: its ports wired once from the environment ([`ports`]), its
//! handler served one invocation at a time ([`serve`]), its errors reported with the stable
//! `errorType` ([`LambdaError`]) that the state machine matches in `ErrorEquals`. A function's
//! `main.rs` is one [`lambda_main!`](crate::lambda_main) line.
//!
//! [`ErrorName`]: hitl_domain::ErrorName

use std::future::Future;
use std::sync::Arc;

pub use hitl_app::{Port, Ports};
use hitl_domain::HandlerError;
use lambda_runtime::{run, service_fn, Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config;

#[doc(hidden)]
pub use mimalloc::MiMalloc;

/// A function's whole `main.rs`: `hitl_aws::lambda_main!(PORTS, handler)` declares the
/// allocator and a `main` that wires the listed [`Port`]s ([`ports`]) and serves
/// `handler(&ports, event)` ([`serve`]).
#[macro_export]
macro_rules! lambda_main {
    ($ports:expr, $handler:path) => {
        #[global_allocator]
        static ALLOC: $crate::lambda::MiMalloc = $crate::lambda::MiMalloc;

        fn main() -> ::std::result::Result<(), $crate::lambda::Error> {
            $crate::lambda::main($ports, |ports: $crate::lambda::Ports, event| async move {
                $handler(&ports, event).await
            })
        }
    };
}

pub use lambda_runtime::Error;

/// The ports of a function, from the variables its template sets: the DynamoDB store
/// (`HITL_TABLE_NAME`), the system clock and the EMF metrics writer always, and each port in
/// `needs` (a missing variable fails the cold start with `ConfigError`, naming it). Ports not
/// listed stay unwired: a call to one fails with a configuration error, never reaches AWS.
pub fn ports(needs: &[Port]) -> Result<Ports, HandlerError> {
    let sdk = crate::lambda_config()?;
    ports_from(&sdk, needs)
}

/// [`ports`] over a given SDK configuration (tests, emulators).
pub fn ports_from(sdk: &aws_config::SdkConfig, needs: &[Port]) -> Result<Ports, HandlerError> {
    let mut ports = Ports::new(
        Arc::new(crate::dynamo_store(sdk)?),
        Arc::new(hitl_domain::ports::SystemClock),
    )
    .with_metrics(Arc::new(crate::metrics::EmfStdout))
    .with_page_url(config::optional(config::REVIEW_PAGE_URL));
    for need in needs {
        ports = match need {
            Port::Resumer => ports.with_resumer(Arc::new(crate::sfn_resumer(sdk))),
            Port::ReviewNotifier => ports.with_review_notifier(Arc::new(crate::sns_notifier(
                sdk,
                config::REVIEW_TOPIC_ARN,
            )?)),
            Port::EscalationNotifier => ports.with_escalation_notifier(Arc::new(
                crate::sns_notifier(sdk, config::ESCALATION_TOPIC_ARN)?,
            )),
            Port::Agent => ports.with_agent(crate::metadata_agent(sdk)?),
            Port::AgentReadiness => ports.with_readiness(crate::agent_readiness(sdk)?),
            Port::Publisher => ports.with_publisher(
                Arc::new(crate::outcome_publisher(sdk)?),
                config::required(config::ENVIRONMENT)?,
            ),
        };
    }
    Ok(ports)
}

/// The body of [`lambda_main!`](crate::lambda_main): tracing, one thread (Lambda sends one
/// invocation at a time per execution environment), the ports, then [`serve`].
pub fn main<I, O, F, Fut>(needs: &[Port], handler: F) -> Result<(), Error>
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
    F: Fn(Ports, I) -> Fut,
    Fut: Future<Output = Result<O, HandlerError>> + Send,
{
    lambda_runtime::tracing::init_default_subscriber();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ports = ports(needs)?;
    runtime.block_on(serve(ports, handler))
}

/// Runs a function's handler for every invocation, one at a time: `handler(deps, payload)`,
/// its [`HandlerError`] reported as a [`LambdaError`] (the stable `errorType`).
pub async fn serve<D, I, O, F, Fut>(deps: D, handler: F) -> Result<(), lambda_runtime::Error>
where
    D: Clone + Send + 'static,
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
    F: Fn(D, I) -> Fut,
    Fut: Future<Output = Result<O, HandlerError>> + Send,
{
    run(service_fn(|event: LambdaEvent<I>| {
        let invocation = handler(deps.clone(), event.payload);
        async move { invocation.await.map_err(LambdaError::from) }
    }))
    .await
}

/// A [`HandlerError`] on its way out of a Lambda handler (`handle(..).await.map_err(LambdaError::from)`).
#[derive(Debug)]
pub struct LambdaError(pub HandlerError);

impl From<HandlerError> for LambdaError {
    fn from(err: HandlerError) -> Self {
        Self(err)
    }
}

impl From<LambdaError> for Diagnostic {
    fn from(LambdaError(err): LambdaError) -> Self {
        Diagnostic {
            error_type: err.name().as_str().to_owned(),
            error_message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_type_is_the_stable_name() {
        let diagnostic = Diagnostic::from(LambdaError::from(HandlerError::field(
            "subject.id",
            "is required",
        )));
        assert_eq!(diagnostic.error_type, "InvalidInput");
        assert_eq!(
            diagnostic.error_message,
            "invalid input: subject.id: is required"
        );
    }
}
