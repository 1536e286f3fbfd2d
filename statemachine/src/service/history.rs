//! The engine's [`HistoryEvent`]s in the shape `GetExecutionHistory` returns them: `timestamp`
//! (epoch seconds), `type`, `id`, `previousEventId` and one `…EventDetails` object named after
//! the event type, with inputs and outputs as JSON text.
//!
//! Tasks whose resource is a Lambda function ARN are reported as AWS reports them, as
//! `LambdaFunction…` events; every other resource as `Task…` events with `resourceType` (the
//! service, e.g. `lambda`) and `resource` (the action, e.g. `invoke.waitForTaskToken`).

use super::epoch;
use crate::engine::LOCAL_REGION;
use crate::history::{EventDetails, HistoryEvent, HistoryEventType as T};
use serde_json::{json, Map, Value};

/// What the mapping needs besides the event.
pub(super) struct Context {
    /// `includeExecutionData`: when false, inputs and outputs are left out.
    pub include_data: bool,
    /// The role ARN reported in `executionStartedEventDetails`.
    pub role_arn: String,
}

fn text(v: &Option<std::sync::Arc<Value>>) -> Option<String> {
    v.as_ref().map(|v| v.to_string())
}

/// `(resourceType, resource)` as the service splits an integration ARN
/// (`arn:aws:states:::lambda:invoke.waitForTaskToken` → `lambda`, `invoke.waitForTaskToken`).
fn split_resource(d: &EventDetails) -> (String, String) {
    let resource = d.resource.clone().unwrap_or_default();
    if let Some(rest) = resource.strip_prefix("arn:aws:states:::") {
        if let Some((service, action)) = rest.split_once(':') {
            return (service.to_string(), action.to_string());
        }
    }
    (d.resource_type.clone().unwrap_or_default(), resource)
}

fn is_lambda_function(d: &EventDetails) -> bool {
    d.resource
        .as_deref()
        .is_some_and(|r| r.starts_with("arn:aws:lambda:") && r.contains(":function:"))
}

/// Builds a details object, skipping absent fields.
fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    let mut m = Map::new();
    for (k, v) in fields {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    }
    Value::Object(m)
}

fn error_cause(d: &EventDetails) -> Value {
    object(vec![
        ("error", d.error.clone().map(Value::from)),
        ("cause", d.cause.clone().map(Value::from)),
    ])
}

/// One event in the service's shape. `redrive_count` is the number of `ExecutionRedriven`
/// events up to and including this one.
pub(super) fn event(e: &HistoryEvent, redrive_count: u64, cx: &Context) -> Value {
    let d = &e.details;
    let data = |v: &Option<std::sync::Arc<Value>>| {
        if cx.include_data {
            text(v).map(Value::from)
        } else {
            None
        }
    };
    let details_of = |v: &Option<std::sync::Arc<Value>>| {
        cx.include_data
            .then(|| json!({"truncated": false}))
            .filter(|_| v.is_some())
    };
    let lambda = is_lambda_function(d);
    let (type_name, key, details): (String, &str, Option<Value>) = match e.event_type {
        T::ExecutionStarted => (
            e.event_type.as_str(),
            "executionStartedEventDetails",
            Some(object(vec![
                ("input", data(&d.input)),
                ("inputDetails", details_of(&d.input)),
                ("roleArn", Some(Value::from(cx.role_arn.clone()))),
            ])),
        ),
        T::ExecutionSucceeded => (
            e.event_type.as_str(),
            "executionSucceededEventDetails",
            Some(object(vec![
                ("output", data(&d.output)),
                ("outputDetails", details_of(&d.output)),
            ])),
        ),
        T::ExecutionFailed => (
            e.event_type.as_str(),
            "executionFailedEventDetails",
            Some(error_cause(d)),
        ),
        T::ExecutionTimedOut => (
            e.event_type.as_str(),
            "executionTimedOutEventDetails",
            Some(error_cause(d)),
        ),
        T::ExecutionAborted => (
            e.event_type.as_str(),
            "executionAbortedEventDetails",
            Some(error_cause(d)),
        ),
        T::ExecutionRedriven => (
            e.event_type.as_str(),
            "executionRedrivenEventDetails",
            Some(json!({ "redriveCount": redrive_count })),
        ),
        T::TaskScheduled if lambda => (
            "LambdaFunctionScheduled".into(),
            "lambdaFunctionScheduledEventDetails",
            Some(object(vec![
                ("resource", d.resource.clone().map(Value::from)),
                ("input", data(&d.input)),
                ("inputDetails", details_of(&d.input)),
                ("timeoutInSeconds", d.timeout_in_seconds.map(Value::from)),
            ])),
        ),
        T::TaskStarted if lambda => ("LambdaFunctionStarted".into(), "", None),
        T::TaskSucceeded if lambda => (
            "LambdaFunctionSucceeded".into(),
            "lambdaFunctionSucceededEventDetails",
            Some(object(vec![
                ("output", data(&d.output)),
                ("outputDetails", details_of(&d.output)),
            ])),
        ),
        T::TaskFailed if lambda => (
            "LambdaFunctionFailed".into(),
            "lambdaFunctionFailedEventDetails",
            Some(error_cause(d)),
        ),
        T::TaskTimedOut if lambda => (
            "LambdaFunctionTimedOut".into(),
            "lambdaFunctionTimedOutEventDetails",
            Some(error_cause(d)),
        ),
        T::TaskScheduled => {
            let (resource_type, resource) = split_resource(d);
            let parameters = text(&d.input).unwrap_or_else(|| "{}".into());
            (
                e.event_type.as_str(),
                "taskScheduledEventDetails",
                Some(object(vec![
                    ("resourceType", Some(Value::from(resource_type))),
                    ("resource", Some(Value::from(resource))),
                    ("region", Some(Value::from(LOCAL_REGION))),
                    (
                        "parameters",
                        cx.include_data.then_some(Value::from(parameters)),
                    ),
                    ("timeoutInSeconds", d.timeout_in_seconds.map(Value::from)),
                    (
                        "heartbeatInSeconds",
                        d.heartbeat_in_seconds.map(Value::from),
                    ),
                ])),
            )
        }
        T::TaskStarted | T::TaskSubmitted | T::TaskSucceeded | T::TaskFailed | T::TaskTimedOut => {
            let (resource_type, resource) = split_resource(d);
            let key = match e.event_type {
                T::TaskStarted => "taskStartedEventDetails",
                T::TaskSubmitted => "taskSubmittedEventDetails",
                T::TaskSucceeded => "taskSucceededEventDetails",
                T::TaskFailed => "taskFailedEventDetails",
                _ => "taskTimedOutEventDetails",
            };
            let mut fields = vec![
                ("resourceType", Some(Value::from(resource_type))),
                ("resource", Some(Value::from(resource))),
            ];
            match e.event_type {
                T::TaskSubmitted | T::TaskSucceeded => {
                    fields.push(("output", data(&d.output)));
                    fields.push(("outputDetails", details_of(&d.output)));
                }
                T::TaskFailed | T::TaskTimedOut => {
                    fields.push(("error", d.error.clone().map(Value::from)));
                    fields.push(("cause", d.cause.clone().map(Value::from)));
                }
                _ => {}
            }
            (e.event_type.as_str(), key, Some(object(fields)))
        }
        T::TaskStateEntered
        | T::ChoiceStateEntered
        | T::PassStateEntered
        | T::WaitStateEntered
        | T::SucceedStateEntered
        | T::FailStateEntered
        | T::ParallelStateEntered
        | T::MapStateEntered => (
            e.event_type.as_str(),
            "stateEnteredEventDetails",
            Some(object(vec![
                ("name", d.name.clone().map(Value::from)),
                ("input", data(&d.input)),
                ("inputDetails", details_of(&d.input)),
            ])),
        ),
        T::TaskStateExited
        | T::ChoiceStateExited
        | T::PassStateExited
        | T::WaitStateExited
        | T::SucceedStateExited
        | T::ParallelStateExited
        | T::MapStateExited => (
            e.event_type.as_str(),
            "stateExitedEventDetails",
            Some(object(vec![
                ("name", d.name.clone().map(Value::from)),
                ("output", data(&d.output)),
                ("outputDetails", details_of(&d.output)),
            ])),
        ),
        T::MapStateStarted => (
            e.event_type.as_str(),
            "mapStateStartedEventDetails",
            Some(object(vec![("length", d.length.map(Value::from))])),
        ),
        T::MapIterationStarted
        | T::MapIterationSucceeded
        | T::MapIterationFailed
        | T::MapIterationAborted => {
            let key = match e.event_type {
                T::MapIterationStarted => "mapIterationStartedEventDetails",
                T::MapIterationSucceeded => "mapIterationSucceededEventDetails",
                T::MapIterationFailed => "mapIterationFailedEventDetails",
                _ => "mapIterationAbortedEventDetails",
            };
            (
                e.event_type.as_str(),
                key,
                Some(object(vec![
                    ("name", d.name.clone().map(Value::from)),
                    ("index", d.index.map(Value::from)),
                ])),
            )
        }
        T::ParallelStateStarted
        | T::ParallelStateSucceeded
        | T::ParallelStateFailed
        | T::ParallelStateAborted
        | T::MapStateSucceeded
        | T::MapStateFailed
        | T::MapStateAborted => (e.event_type.as_str(), "", None),
    };
    let mut out = object(vec![
        ("timestamp", Some(epoch(e.timestamp))),
        ("type", Some(Value::from(type_name))),
        ("id", Some(Value::from(e.id))),
        ("previousEventId", Some(Value::from(e.previous_event_id))),
    ]);
    if let (Some(details), Value::Object(m)) = (details, &mut out) {
        m.insert(key.to_string(), details);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn cx() -> Context {
        Context {
            include_data: true,
            role_arn: "arn:aws:iam::000000000000:role/r".into(),
        }
    }

    fn ev(t: T, details: EventDetails) -> HistoryEvent {
        HistoryEvent {
            id: 3,
            previous_event_id: 2,
            timestamp: chrono::DateTime::from_timestamp_millis(1_700_000_000_250).unwrap(),
            event_type: t,
            details,
        }
    }

    #[test]
    fn an_integration_task_is_split_into_service_and_action() {
        let e = ev(
            T::TaskScheduled,
            EventDetails {
                resource: Some("arn:aws:states:::lambda:invoke.waitForTaskToken".into()),
                resource_type: Some("lambda".into()),
                input: Some(Arc::new(json!({"a": 1}))),
                heartbeat_in_seconds: Some(60),
                ..Default::default()
            },
        );
        let v = event(&e, 0, &cx());
        assert_eq!(v["timestamp"], json!(1_700_000_000.25));
        assert_eq!(v["type"], "TaskScheduled");
        assert_eq!(v["previousEventId"], 2);
        let d = &v["taskScheduledEventDetails"];
        assert_eq!(d["resourceType"], "lambda");
        assert_eq!(d["resource"], "invoke.waitForTaskToken");
        assert_eq!(d["parameters"], r#"{"a":1}"#);
        assert_eq!(d["heartbeatInSeconds"], 60);
        assert!(d.get("timeoutInSeconds").is_none());
    }

    #[test]
    fn a_lambda_function_arn_gives_lambda_function_events() {
        let e = ev(
            T::TaskSucceeded,
            EventDetails {
                resource: Some("arn:aws:lambda:us-east-1:1:function:F".into()),
                output: Some(Arc::new(json!("ok"))),
                ..Default::default()
            },
        );
        let v = event(&e, 0, &cx());
        assert_eq!(v["type"], "LambdaFunctionSucceeded");
        assert_eq!(v["lambdaFunctionSucceededEventDetails"]["output"], "\"ok\"");
    }

    #[test]
    fn without_execution_data_inputs_and_outputs_are_left_out() {
        let e = ev(
            T::PassStateExited,
            EventDetails {
                name: Some("P".into()),
                output: Some(Arc::new(json!({"x": 1}))),
                ..Default::default()
            },
        );
        let v = event(
            &e,
            0,
            &Context {
                include_data: false,
                ..cx()
            },
        );
        assert_eq!(v["stateExitedEventDetails"], json!({"name": "P"}));
    }
}
