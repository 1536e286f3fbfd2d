//! How a Lambda function runs: its ports wired once from the environment ([`wire`]), its
//! handler served one invocation at a time ([`serve`]), its errors reported with the stable
//! `errorType` ([`LambdaError`]) that the state machine matches in `ErrorEquals`. A function's
//! `main.rs` is one [`lambda_main!`](crate::lambda_main) line.
//!
//! [`ErrorName`]: hitl_domain::ErrorName

use std::future::Future;

pub use hitl_app::Ports;
use hitl_domain::HandlerError;
use lambda_runtime::{run, service_fn, Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;

#[doc(hidden)]
pub use mimalloc::MiMalloc;

/// A function's whole `main.rs`: `hitl_aws::lambda_main!(crate::handle, ports: [resumer, ...])`
/// declares the allocator and a `main` that wires the store, the clock and the metrics sink
/// ([`wire::base`]) plus each listed port (a function of [`wire`]), then serves
/// `handle(&ports, event)` ([`serve`]). The list is resolved at compile time, so a function
/// links only the SDK clients of the ports it names (each function's zip stays small), and
/// the infra tests derive its IAM policy and environment from the same list.
#[macro_export]
macro_rules! lambda_main {
    ($handler:path, ports: [$($port:ident),* $(,)?]) => {
        #[global_allocator]
        static ALLOC: $crate::lambda::MiMalloc = $crate::lambda::MiMalloc;

        fn main() -> ::std::result::Result<(), $crate::lambda::Error> {
            $crate::lambda::main(
                |sdk| {
                    let ports = $crate::lambda::wire::base(sdk)?;
                    $( let ports = $crate::lambda::wire::$port(sdk, ports)?; )*
                    Ok(ports)
                },
                |ports: $crate::lambda::Ports, event| async move { $handler(&ports, event).await },
            )
        }
    };
}

pub use lambda_runtime::Error;

/// The ports of a Lambda function, one function per port, each reading the variables its
/// template sets (a missing one fails the cold start with `ConfigError`, naming it). Ports a
/// function does not wire stay [`hitl_app::ports::Unwired`]: a call to one fails with a
/// configuration error and never reaches AWS.
pub mod wire {
    use std::sync::Arc;

    use aws_config::SdkConfig;
    use hitl_app::Ports;
    use hitl_domain::HandlerError;

    use crate::config;

    /// What every function has: the DynamoDB store (`HITL_TABLE_NAME`), the system clock, the
    /// EMF metrics writer and, when set, the review page's URL for links and the generators'
    /// prices for the analytics (`HITL_PRICES`).
    pub fn base(sdk: &SdkConfig) -> Result<Ports, HandlerError> {
        Ok(Ports::new(
            Arc::new(crate::dynamo_store(sdk)?),
            Arc::new(hitl_domain::ports::SystemClock),
        )
        .with_metrics(Arc::new(crate::metrics::EmfStdout))
        .with_page_url(config::optional(config::REVIEW_PAGE_URL))
        .with_prices(config::prices(config::optional(config::PRICES))?))
    }

    /// Step Functions: `SendTaskSuccess`, and the execution history the relay reads.
    pub fn resumer(sdk: &SdkConfig, ports: Ports) -> Result<Ports, HandlerError> {
        Ok(ports.with_resumer(Arc::new(crate::sfn_resumer(sdk))))
    }

    /// The review topic, plus email through SES, Slack and the signed webhook when configured.
    pub fn review_notifier(sdk: &SdkConfig, ports: Ports) -> Result<Ports, HandlerError> {
        let topic = Arc::new(crate::sns_notifier(sdk, config::REVIEW_TOPIC_ARN)?);
        let chat = crate::chat_channels(config::optional(config::NOTIFICATION_CHANNELS))?;
        Ok(ports.with_review_notifier(fanout(topic, crate::ses_notifier(sdk)?, chat)))
    }

    /// The escalation topic, plus email through SES, Slack and the signed webhook when
    /// configured.
    pub fn escalation_notifier(sdk: &SdkConfig, ports: Ports) -> Result<Ports, HandlerError> {
        let topic = Arc::new(crate::sns_notifier(sdk, config::ESCALATION_TOPIC_ARN)?);
        let chat = crate::chat_channels(config::optional(config::NOTIFICATION_CHANNELS))?;
        Ok(ports.with_escalation_notifier(fanout(topic, crate::ses_notifier(sdk)?, chat)))
    }

    /// `topic`, plus `email` (to the notification's group) and the `chat` channels when
    /// configured; each is a channel of its own in the notification outbox.
    fn fanout(
        topic: Arc<dyn hitl_domain::ports::Notifier>,
        email: Option<crate::email::SesNotifier>,
        chat: Vec<Arc<dyn hitl_domain::ports::Notifier>>,
    ) -> Arc<dyn hitl_domain::ports::Notifier> {
        let mut channels = vec![topic];
        if let Some(email) = email {
            channels.push(Arc::new(email));
        }
        channels.extend(chat);
        if channels.len() == 1 {
            channels.remove(0)
        } else {
            Arc::new(hitl_domain::ports::Fanout::new(channels))
        }
    }

    /// The generator `HITL_GENERATOR` chooses.
    pub fn agent(sdk: &SdkConfig, ports: Ports) -> Result<Ports, HandlerError> {
        Ok(ports.with_agent(crate::metadata_agent(sdk)?))
    }

    /// The configured agent's readiness check.
    pub fn agent_readiness(sdk: &SdkConfig, ports: Ports) -> Result<Ports, HandlerError> {
        Ok(ports.with_readiness(crate::agent_readiness(sdk)?))
    }

    /// The artifact types under `HITL_TYPES_S3_URI` (when set), read once at cold start and
    /// kept beside the built-in ones for the life of the execution environment. A prefix
    /// that cannot be read, or a type in it that fails its checks, fails the cold start with
    /// `ConfigError` naming the object: a function never judges by a partial set of types.
    pub fn types(sdk: &SdkConfig, ports: Ports) -> Result<Ports, HandlerError> {
        let Some(source) = crate::s3_types(sdk)? else {
            return Ok(ports);
        };
        // Wiring runs before the function's runtime starts; a thread of its own keeps this
        // correct even when called from inside one.
        let registry = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| HandlerError::Config(format!("runtime: {e}")))?
                        .block_on(source.registry())
                })
                .join()
                .unwrap_or_else(|_| {
                    Err(HandlerError::Config(
                        "reading the artifact types panicked".into(),
                    ))
                })
        })?;
        Ok(ports.with_types(Arc::new(registry)))
    }

    /// S3 and EventBridge, and the environment name of outcome keys.
    pub fn publisher(sdk: &SdkConfig, ports: Ports) -> Result<Ports, HandlerError> {
        Ok(ports.with_publisher(
            Arc::new(crate::outcome_publisher(sdk)?),
            config::required(config::ENVIRONMENT)?,
        ))
    }
}

/// The body of [`lambda_main!`](crate::lambda_main): tracing, one thread (Lambda sends one
/// invocation at a time per execution environment), the ports `wire` builds from the
/// function's SDK configuration, then [`serve`].
pub fn main<W, I, O, F, Fut>(wire: W, handler: F) -> Result<(), Error>
where
    W: FnOnce(&aws_config::SdkConfig) -> Result<Ports, HandlerError>,
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
    F: Fn(Ports, I) -> Fut,
    Fut: Future<Output = Result<O, HandlerError>> + Send,
{
    lambda_runtime::tracing::init_default_subscriber();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ports = wire(&crate::lambda_config()?)?;
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
