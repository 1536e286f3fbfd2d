//! Shared helpers for the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use serde_json::Value;
use statemachine::{
    Engine, EngineConfig, ExecutionDescription, ExecutionStore, HandlerRegistry,
    MemoryExecutionStore, VirtualClock,
};
use std::sync::{Arc, Mutex};

pub fn base_time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

pub fn engine_with(registry: HandlerRegistry, config: EngineConfig) -> Engine {
    let store: Arc<dyn ExecutionStore> = Arc::new(MemoryExecutionStore::new());
    let clock = Arc::new(VirtualClock::fixed(store.clone(), base_time()).unwrap());
    Engine::new(store, registry, clock, config)
}

pub fn engine(registry: HandlerRegistry) -> Engine {
    engine_with(registry, EngineConfig::default())
}

pub async fn run(def: &str, input: Value, registry: HandlerRegistry) -> ExecutionDescription {
    let e = engine(registry);
    let arn = e.create_state_machine("test", def).unwrap();
    let exec = e.start_execution(&arn, Some("run"), input).await.unwrap();
    e.describe_execution(&exec).unwrap()
}

pub async fn output(def: &str, input: Value) -> Value {
    let d = run(def, input, HandlerRegistry::new()).await;
    assert_eq!(
        d.status.as_str(),
        "SUCCEEDED",
        "error {:?}: {:?}",
        d.error,
        d.cause
    );
    d.output.unwrap()
}

/// A registry whose handlers record the tokens they were given.
pub fn token_sink() -> (Arc<Mutex<Vec<String>>>, HandlerRegistry) {
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let t = tokens.clone();
    let reg = HandlerRegistry::new().with_fn("request-review", move |input: Value, ctx| {
        let t = t.clone();
        async move {
            let tok = input["token"].as_str().map(str::to_string);
            assert_eq!(tok, ctx.task_token);
            t.lock().unwrap().push(tok.unwrap());
            Ok(serde_json::json!({"notified": true}))
        }
    });
    (tokens, reg)
}
