//! Validation rules: each produces a message naming the state and field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use statemachine::{validate, Definition, ValidationError};

fn check(def: Value) -> Vec<ValidationError> {
    validate(&Definition::from_value(&def).expect("parses"))
}

/// Asserts exactly one problem for `state`/`field` whose message contains `needle`.
fn expect_one(def: Value, state: Option<&str>, field: &str, needle: &str) {
    let errs = check(def);
    let hits: Vec<&ValidationError> = errs
        .iter()
        .filter(|e| e.state.as_deref() == state && e.field == field)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one error for {state:?}/{field}, got {errs:#?}"
    );
    assert!(
        hits[0].message.contains(needle),
        "message {:?} lacks {needle:?}",
        hits[0].message
    );
    let shown = hits[0].to_string();
    if let Some(s) = state {
        assert!(
            shown.starts_with(&format!("state \"{s}\", field \"{field}\": ")),
            "{shown}"
        );
    } else {
        assert!(
            shown.starts_with(&format!("field \"{field}\": ")),
            "{shown}"
        );
    }
}

fn task(extra: Value) -> Value {
    let mut t =
        json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true});
    for (k, v) in extra.as_object().unwrap() {
        t[k] = v.clone();
    }
    json!({"StartAt": "T", "States": {"T": t}})
}

#[test]
fn start_at_must_exist() {
    expect_one(
        json!({"StartAt": "X", "States": {"A": {"Type": "Succeed"}}}),
        None,
        "StartAt",
        "no state named \"X\"",
    );
}

#[test]
fn next_default_and_catch_targets_must_exist() {
    expect_one(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Bar"}}}),
        Some("A"),
        "Next",
        "no state named \"Bar\"",
    );
    expect_one(
        json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": true, "Next": "S"}], "Default": "Nope"}, "S": {"Type": "Succeed"}}}),
        Some("C"),
        "Default",
        "no state named \"Nope\"",
    );
    expect_one(
        json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": true, "Next": "Gone"}], "Default": "S"}, "S": {"Type": "Succeed"}}}),
        Some("C"),
        "Choices.Next",
        "no state named \"Gone\"",
    );
    expect_one(
        task(json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Missing"}]})),
        Some("T"),
        "Catch.Next",
        "Missing",
    );
}

#[test]
fn nested_scopes_are_checked() {
    expect_one(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "Outside"}}}]}}}),
        Some("B"),
        "Next",
        "no state named \"Outside\"",
    );
    expect_one(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemProcessor":
            {"StartAt": "Nope", "States": {"I": {"Type": "Succeed"}}}}}}),
        Some("M"),
        "ItemProcessor.StartAt",
        "no state named \"Nope\"",
    );
    expect_one(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "Iterator":
            {"StartAt": "I", "States": {"I": {"Type": "Pass"}}}}}}),
        Some("I"),
        "Next",
        "\"Next\" or \"End\"",
    );
}

#[test]
fn unreachable_states() {
    expect_one(
        json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "Orphan": {"Type": "Succeed"}}}),
        Some("Orphan"),
        "States",
        "not reachable",
    );
}

#[test]
fn next_or_end_rules() {
    expect_one(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}),
        Some("A"),
        "Next",
        "\"Next\" or \"End\"",
    );
    expect_one(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B", "End": true}, "B": {"Type": "Succeed"}}}),
        Some("A"),
        "End",
        "both",
    );
}

#[test]
fn path_syntax() {
    expect_one(
        task(json!({"InputPath": "a.b"})),
        Some("T"),
        "InputPath",
        "start with '$'",
    );
    expect_one(
        task(json!({"OutputPath": "$.a[?("})),
        Some("T"),
        "OutputPath",
        "invalid JSONPath",
    );
    expect_one(
        task(json!({"ResultPath": "$.a[*]"})),
        Some("T"),
        "ResultPath",
        "reference path",
    );
    expect_one(
        task(json!({"Parameters": {"x.$": "nope"}})),
        Some("T"),
        "Parameters",
        "x.$",
    );
    expect_one(
        task(json!({"Parameters": {"x.$": "States.Bogus(1)"}})),
        Some("T"),
        "Parameters",
        "unknown intrinsic",
    );
    expect_one(
        task(json!({"ResultSelector": {"y.$": "$.a["}})),
        Some("T"),
        "ResultSelector",
        "y.$",
    );
    expect_one(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemsPath": "items",
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}}}}),
        Some("M"),
        "ItemsPath",
        "start with '$'",
    );
    expect_one(
        json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "a", "IsPresent": true, "Next": "S"}]}, "S": {"Type": "Succeed"}}}),
        Some("C"),
        "Choices.Variable",
        "start with '$'",
    );
    // Context paths and intrinsics are fine.
    assert!(check(task(
        json!({"Parameters": {"a.$": "$$.Execution.Id", "b.$": "States.Format('{}', $.x)"}})
    ))
    .is_empty());
}

#[test]
fn error_equals_rules() {
    expect_one(
        task(json!({"Retry": [{"ErrorEquals": []}]})),
        Some("T"),
        "Retry",
        "must not be empty",
    );
    expect_one(
        task(json!({"Retry": [{"ErrorEquals": ["States.ALL", "X"]}]})),
        Some("T"),
        "Retry",
        "alone",
    );
    expect_one(
        task(json!({"Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]})),
        Some("T"),
        "Retry",
        "must be last",
    );
    expect_one(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "S"}, {"ErrorEquals": ["X"], "Next": "S"}]}, "S": {"Type": "Succeed"}}}),
        Some("T"),
        "Catch",
        "must be last",
    );
    expect_one(
        task(json!({"Retry": [{"ErrorEquals": ["States.Bogus"]}]})),
        Some("T"),
        "Retry",
        "not a predefined",
    );
    expect_one(
        task(json!({"Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]})),
        Some("T"),
        "Retry",
        "BackoffRate",
    );
}

#[test]
fn task_resource_patterns() {
    expect_one(
        task(json!({"Resource": "arn:aws:lambda:us-east-1:1:function:f.waitForTaskToken"})),
        Some("T"),
        "Resource",
        "require an arn:aws:states::: service integration",
    );
    expect_one(
        task(json!({"Resource": "arn:aws:states:::dynamodb:putItem.waitForTaskToken"})),
        Some("T"),
        "Resource",
        "does not support the .waitForTaskToken",
    );
    expect_one(
        task(json!({"Resource": "arn:aws:states:::lambda:invoke.sync"})),
        Some("T"),
        "Resource",
        "does not support the .sync",
    );
    expect_one(
        task(json!({"Resource": "arn:aws:states:::lambda:invoke"})),
        Some("T"),
        "Parameters",
        "FunctionName",
    );
    for ok in [
        "sqs:sendMessage",
        "sns:publish",
        "states:startExecution",
        "events:putEvents",
        "ecs:runTask",
    ] {
        let mut params = json!({"FunctionName": "f", "StateMachineArn": "x"});
        params["QueueUrl"] = json!("q");
        let errs = check(task(
            json!({"Resource": format!("arn:aws:states:::{ok}.waitForTaskToken"), "Parameters": params}),
        ));
        assert!(errs.is_empty(), "{ok}: {errs:?}");
    }
    assert!(check(task(json!({"Resource": "arn:aws:states:::states:startExecution.sync:2", "Parameters": {"StateMachineArn": "x"}}))).is_empty());
}

#[test]
fn timeouts_and_heartbeats() {
    expect_one(
        task(json!({"TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t"})),
        Some("T"),
        "TimeoutSecondsPath",
        "not both",
    );
    expect_one(
        task(json!({"HeartbeatSeconds": 5, "HeartbeatSecondsPath": "$.t"})),
        Some("T"),
        "HeartbeatSecondsPath",
        "not both",
    );
    expect_one(
        task(json!({"HeartbeatSeconds": 10, "TimeoutSeconds": 5})),
        Some("T"),
        "HeartbeatSeconds",
        "smaller",
    );
}

#[test]
fn per_type_requirements() {
    expect_one(
        json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Default": "S"}, "S": {"Type": "Succeed"}}}),
        Some("C"),
        "Choices",
        "requires",
    );
    expect_one(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "End": true}}}),
        Some("W"),
        "Seconds",
        "exactly one",
    );
    expect_one(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true}}}),
        Some("W"),
        "Seconds",
        "exactly one",
    );
    expect_one(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}}}),
        Some("F"),
        "ErrorPath",
        "not both",
    );
    expect_one(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Cause": "c", "CausePath": "$.c"}}}),
        Some("F"),
        "CausePath",
        "not both",
    );
    expect_one(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true}}}),
        Some("M"),
        "ItemProcessor",
        "requires",
    );
    expect_one(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true}}}),
        Some("P"),
        "Branches",
        "requires",
    );
}

#[test]
fn parse_rejects_unknown_fields_with_state_and_field() {
    let e = Definition::parse(
        r#"{"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":1,"Result":1,"End":true}}}"#,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"state "A", field "Result": unknown field "Result" for a Wait state"#
    );
    let e = Definition::parse(r#"{"StartAt":"A","States":{"A":{"Type":"Nope"}}}"#).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("Type"));
    let e = Definition::parse(r#"{"StartAt":"A","States":{"A":{"Type":"Choice","Choices":[{"Variable":"$.a","Bogus":1,"Next":"A"}]}}}"#).unwrap_err();
    assert_eq!(
        (e.state.as_deref(), e.field.as_deref()),
        (Some("A"), Some("Choices"))
    );
}
