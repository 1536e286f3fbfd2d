//! `TestState`: one state run on its own with an input, answered with its output or error and
//! the state it would go to next.
//!
//! The state runs as the only real state of a scratch state machine in a scratch engine (an
//! in-memory store, a virtual clock that skips Wait states) with the endpoint's task handlers;
//! every state it can go to (`Next`, `Default`, a choice's `Next`, a catcher's `Next`) is a
//! stand-in `Pass` state that ends the run, so the state entered tells the next state. Its
//! `Retry` rules are taken off: a failure a rule would retry is answered `RETRIABLE`, as the
//! service answers it, rather than retried.

use super::error::ApiError;
use crate::clock::VirtualClock;
use crate::engine::{Engine, EngineConfig};
use crate::store::{ExecutionStatus, MemoryExecutionStore};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestState {
    definition: String,
    input: Option<String>,
    inspection_level: Option<String>,
    state_name: Option<String>,
}

/// The name the tested state runs under when the request names none.
const DEFAULT_NAME: &str = "TestState";

pub(crate) async fn test_state(engine: &Engine, r: TestState) -> Result<Value, ApiError> {
    let level = r.inspection_level.as_deref().unwrap_or("INFO");
    if !matches!(level, "INFO" | "DEBUG" | "TRACE") {
        return Err(ApiError::validation(format!(
            "inspectionLevel must be INFO, DEBUG or TRACE, got '{level}'"
        )));
    }
    let input_text = r.input.as_deref().unwrap_or("{}");
    let input: Value = serde_json::from_str(input_text)
        .map_err(|e| ApiError::validation(format!("input is not valid JSON: {e}")))?;
    let definition: Value = serde_json::from_str(&r.definition).map_err(|e| {
        ApiError::new(
            "InvalidDefinition",
            format!("definition is not valid JSON: {e}"),
        )
    })?;
    // A whole state machine with `stateName`, or one state.
    let (name, mut state, query_language) = match definition.get("States") {
        Some(states) => {
            let Some(name) = r.state_name.clone() else {
                return Err(ApiError::validation(
                    "stateName is required when definition is a whole state machine",
                ));
            };
            let state = states.get(&name).cloned().ok_or_else(|| {
                ApiError::validation(format!(
                    "stateName '{name}' is not a state of the definition"
                ))
            })?;
            (name, state, definition.get("QueryLanguage").cloned())
        }
        None => (
            r.state_name
                .clone()
                .unwrap_or_else(|| DEFAULT_NAME.to_string()),
            definition,
            None,
        ),
    };
    let Some(obj) = state.as_object_mut() else {
        return Err(ApiError::new(
            "InvalidDefinition",
            "definition must be a state (a JSON object with Type)",
        ));
    };
    if matches!(
        obj.get("Type").and_then(Value::as_str),
        Some("Map" | "Parallel")
    ) {
        return Err(ApiError::validation(
            "TestState of Map and Parallel states is not supported by the local endpoint",
        ));
    }
    let retry = obj.remove("Retry");
    let catch_targets = targets(obj.get("Catch"), "Next");
    let mut next_targets = Vec::new();
    if let Some(n) = obj.get("Next").and_then(Value::as_str) {
        next_targets.push(n.to_string());
    }
    if let Some(n) = obj.get("Default").and_then(Value::as_str) {
        next_targets.push(n.to_string());
    }
    next_targets.extend(targets(obj.get("Choices"), "Next"));
    let mut states = Map::new();
    for target in next_targets.iter().chain(&catch_targets) {
        if *target == name {
            return Err(ApiError::validation(format!(
                "state '{name}' goes to itself, which TestState cannot show locally"
            )));
        }
        states.insert(target.clone(), json!({"Type": "Pass", "End": true}));
    }
    states.insert(name.clone(), state);
    let mut machine = json!({"StartAt": name, "States": states});
    if let (Some(q), Some(m)) = (query_language, machine.as_object_mut()) {
        m.insert("QueryLanguage".into(), q);
    }

    let store = Arc::new(MemoryExecutionStore::new());
    let clock =
        Arc::new(VirtualClock::new(store.clone()).map_err(crate::engine::EngineError::from)?);
    let scratch = Engine::new(
        store,
        engine.registry().clone(),
        clock,
        EngineConfig::default(),
    );
    let sm = scratch.create_state_machine("test-state", &machine.to_string())?;
    let arn = scratch.start_execution(&sm, Some("test"), input).await?;
    let d = scratch.describe_execution(&arn)?;
    if d.status == ExecutionStatus::Running {
        return Err(ApiError::validation(
            "the state waits for a task token, which TestState cannot show locally",
        ));
    }
    let history = scratch.get_execution_history(&arn)?;
    // the first stand-in entered: the next state
    let entered = history.iter().skip(1).find_map(|e| {
        let n = e.details.name.as_deref()?;
        (e.event_type.as_str().ends_with("StateEntered") && n != name).then(|| n.to_string())
    });
    let failure = history
        .iter()
        .take_while(|e| entered.is_none() || e.details.name.as_deref() != entered.as_deref())
        .find(|e| e.details.error.is_some());
    let mut v = Map::new();
    match d.status {
        ExecutionStatus::Succeeded => {
            if let Some(out) = &d.output {
                v.insert("output".into(), Value::from(out.to_string()));
            }
            let caught =
                entered.as_ref().is_some_and(|n| catch_targets.contains(n)) && failure.is_some();
            if let (true, Some(f)) = (caught, failure) {
                v.insert("status".into(), json!("CAUGHT_ERROR"));
                v.insert("error".into(), json!(f.details.error));
                v.insert(
                    "cause".into(),
                    json!(f.details.cause.clone().unwrap_or_default()),
                );
            } else {
                v.insert("status".into(), json!("SUCCEEDED"));
            }
            if let Some(n) = entered {
                v.insert("nextState".into(), Value::from(n));
            }
        }
        _ => {
            let error = d.error.clone().unwrap_or_default();
            let status = if retries(retry.as_ref(), &error) {
                "RETRIABLE"
            } else {
                "FAILED"
            };
            v.insert("status".into(), json!(status));
            if let Some(e) = &d.error {
                v.insert("error".into(), json!(e));
            }
            if let Some(c) = &d.cause {
                v.insert("cause".into(), json!(c));
            }
        }
    }
    if level != "INFO" {
        v.insert("inspectionData".into(), json!({ "input": input_text }));
    }
    Ok(Value::Object(v))
}

/// The `field` of each element of an array field (`Catch[].Next`, `Choices[].Next`).
fn targets(list: Option<&Value>, field: &str) -> Vec<String> {
    list.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.get(field).and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether one of the `Retry` rules would retry `error` (its `ErrorEquals` names it or
/// `States.ALL`, and `MaxAttempts` is not 0).
fn retries(retry: Option<&Value>, error: &str) -> bool {
    let Some(rules) = retry.and_then(Value::as_array) else {
        return false;
    };
    rules.iter().any(|rule| {
        let attempts = rule.get("MaxAttempts").and_then(Value::as_u64).unwrap_or(3);
        let names = rule.get("ErrorEquals").and_then(Value::as_array);
        attempts > 0
            && names.is_some_and(|n| {
                n.iter()
                    .any(|e| e.as_str() == Some(error) || e.as_str() == Some("States.ALL"))
            })
    })
}
