//! The local engine as a Step Functions endpoint: the AWS JSON 1.0 protocol over HTTP
//! (`POST /`, `X-Amz-Target: AWSStepFunctions.<Operation>`,
//! `Content-Type: application/x-amz-json-1.0`), so the AWS CLI, boto3 and the AWS SDKs drive
//! the engine with `--endpoint-url` / `endpoint_url`.
//!
//! Requests are not authenticated: any SigV4 `Authorization` header (any access key, any
//! signature) or none at all is accepted, and the signature is never checked. Bind the endpoint
//! to a loopback address only.
//!
//! Besides the AWS operations ([`operations`]) there is one extension, which no AWS endpoint
//! has: `AWSStepFunctions.HitlAdvanceTime` with `{"seconds": N}` moves the engine's virtual
//! clock forward and runs what became due (Wait states, retries, task timeouts).
//!
//! Architecture invariant: this module only translates between the wire protocol and the
//! [`Engine`] API; the language and the executions' state belong to the engine.

mod error;
mod history;
pub mod mock;
pub mod operations;
mod paging;
mod test_state;

pub use error::ApiError;
pub use mock::{MockConfig, MockConfigError, MockRuntime};

use crate::clock::VirtualClock;
use crate::engine::{Engine, EngineConfig, EngineError};
use crate::store::ExecutionStore;
use crate::task::HandlerRegistry;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::Arc;

/// The media type of requests and responses.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// The `X-Amz-Target` prefix of every operation.
pub const TARGET_PREFIX: &str = "AWSStepFunctions.";
/// How often [`serve`] runs the timers that have come due (Wait states in real time).
pub const TIMER_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// An engine set up for the endpoint: real time by default (a [`VirtualClock`] on the wall
/// clock, which `HitlAdvanceTime` moves forward), and Wait states that wait rather than being
/// skipped, so `StartExecution` returns while the execution is still RUNNING as on AWS.
pub fn endpoint_engine(
    store: Arc<dyn ExecutionStore>,
    registry: HandlerRegistry,
) -> Result<Engine, EngineError> {
    let clock = Arc::new(VirtualClock::new(store.clone())?);
    let config = EngineConfig {
        auto_advance_timers: false,
        ..EngineConfig::default()
    };
    Ok(Engine::new(store, registry, clock, config))
}

/// What the routes share: the engine and, when one is in use, the mock configuration.
#[derive(Clone)]
struct Shared {
    engine: Arc<Engine>,
    mocks: Option<Arc<MockRuntime>>,
}

/// The endpoint's routes: `POST /` for every operation.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new().route("/", post(handle)).with_state(Shared {
        engine,
        mocks: None,
    })
}

/// The endpoint's routes with a Step Functions Local mock configuration: `StartExecution`
/// with `<state machine ARN>#<test case>` runs that test case, its listed Task states answered
/// from the configuration ([`mock`]). Installs the configuration as the engine's task override.
pub fn router_with_mocks(engine: Arc<Engine>, mocks: MockConfig) -> Router {
    let mocks = Arc::new(MockRuntime::new(mocks));
    engine.set_task_override(Some(mocks.clone()));
    Router::new().route("/", post(handle)).with_state(Shared {
        engine,
        mocks: Some(mocks),
    })
}

/// Serves the endpoint on `listener` until the listener fails, and runs due timers every
/// [`TIMER_TICK`] so that executions waiting in real time carry on.
pub async fn serve(listener: tokio::net::TcpListener, engine: Arc<Engine>) -> std::io::Result<()> {
    serve_router(listener, engine.clone(), router(engine)).await
}

/// [`serve`] with a mock configuration (see [`router_with_mocks`]); the CLI loads it with
/// [`MockConfig::load`].
pub async fn serve_with_mocks(
    listener: tokio::net::TcpListener,
    engine: Arc<Engine>,
    mocks: MockConfig,
) -> std::io::Result<()> {
    serve_router(listener, engine.clone(), router_with_mocks(engine, mocks)).await
}

async fn serve_router(
    listener: tokio::net::TcpListener,
    engine: Arc<Engine>,
    router: Router,
) -> std::io::Result<()> {
    let ticker = tokio::spawn(run_timers(engine));
    let served = axum::serve(listener, router).await;
    ticker.abort();
    served
}

/// Runs whatever is due, forever (the endpoint's timer loop).
pub async fn run_timers(engine: Arc<Engine>) {
    let mut tick = tokio::time::interval(TIMER_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = engine.run_due().await {
            tracing::warn!(error = %e, "running due timers failed");
        }
    }
}

async fn handle(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(operation) = target.strip_prefix(TARGET_PREFIX) else {
        return ApiError::new(
            "UnknownOperationException",
            format!("X-Amz-Target must be {TARGET_PREFIX}<Operation>, got '{target}'"),
        )
        .into_response();
    };
    let request: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                return ApiError::new("SerializationException", "the body must be a JSON object")
                    .into_response()
            }
            Err(e) => {
                return ApiError::new(
                    "SerializationException",
                    format!("the body is not valid JSON: {e}"),
                )
                .into_response()
            }
        }
    };
    match operations::dispatch_with(&shared.engine, shared.mocks.as_deref(), operation, request)
        .await
    {
        Ok(v) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            v.to_string(),
        )
            .into_response(),
        Err(e) => {
            tracing::debug!(operation, error = e.kind, message = %e.message, "request refused");
            e.into_response()
        }
    }
}

/// A timestamp as the service sends it: epoch seconds with milliseconds as the fraction.
pub(crate) fn epoch(t: DateTime<Utc>) -> Value {
    Value::from(t.timestamp_millis() as f64 / 1000.0)
}
