//! Answers recorded against AWS Step Functions that the engine once got wrong (issue 17,
//! "Known wrong answers"): each case is the service's observed behaviour as the issue records
//! it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use statemachine::{validate, Definition, HandlerRegistry};

async fn pass_params(params: Value, input: Value) -> ExecutionResult {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": params, "End": true}}});
    let d = run(&def.to_string(), input, HandlerRegistry::new()).await;
    match d.status.as_str() {
        "SUCCEEDED" => ExecutionResult::Output(d.output.unwrap()),
        _ => ExecutionResult::Failed(d.error.unwrap_or_default(), d.cause.unwrap_or_default()),
    }
}

#[derive(Debug, PartialEq)]
enum ExecutionResult {
    Output(Value),
    Failed(String, String),
}

fn invalid(def: Value) -> bool {
    match Definition::from_value(&def) {
        Err(_) => true,
        Ok(d) => !validate(&d).is_empty(),
    }
}

#[tokio::test]
async fn math_add_rounds_each_argument_half_up() {
    for (a, b, sum) in [
        (1.49, 1.5, 3),
        (-0.5, 0.5, 1),
        (2.0, 3.0, 5),
        (-1.5, 0.0, -1),
    ] {
        let got = pass_params(
            json!({"s.$": "States.MathAdd($.a, $.b)"}),
            json!({"a": a, "b": b}),
        )
        .await;
        assert_eq!(got, ExecutionResult::Output(json!({"s": sum})), "{a} + {b}");
    }
}

#[tokio::test]
async fn string_to_json_of_blank_is_null() {
    for text in ["", " "] {
        let got = pass_params(
            json!({"v.$": "States.StringToJson($.t)"}),
            json!({"t": text}),
        )
        .await;
        assert_eq!(got, ExecutionResult::Output(json!({"v": null})), "{text:?}");
    }
}

#[tokio::test]
async fn format_writes_objects_and_arrays_like_the_service() {
    let got = pass_params(
        json!({"v.$": "States.Format('x={} y={}', $.o, $.a)"}),
        json!({"o": {"Arg1": 1, "Arg2": []}, "a": [1, "b", {"c": true}]}),
    )
    .await;
    assert_eq!(
        got,
        ExecutionResult::Output(json!({"v": "x={Arg1=1, Arg2=[]} y=[1, b, {c=true}]"}))
    );
}

#[tokio::test]
async fn an_output_over_256_kib_is_a_data_limit_error() {
    let big = "x".repeat(262_144);
    let got = pass_params(json!({"v.$": "$.big"}), json!({"big": big})).await;
    match got {
        ExecutionResult::Failed(error, _) => assert_eq!(error, "States.DataLimitExceeded"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_timestamp_without_t_is_refused() {
    let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.at", "End": true}}});
    let d = run(
        &def.to_string(),
        json!({"at": "2016-12-05 21:29:29Z"}),
        HandlerRegistry::new(),
    )
    .await;
    assert_eq!(d.status.as_str(), "FAILED");
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
    assert!(invalid(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2016-12-05 21:29:29Z", "End": true}}})
    ));
    assert!(!invalid(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2016-12-05T21:29:29Z", "End": true}}})
    ));
}

#[test]
fn an_escaped_double_quote_in_an_intrinsic_literal_is_invalid() {
    assert!(invalid(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
        "Parameters": {"v.$": "States.Format('say \\\"hi\\\" {}', $.x)"}, "End": true}}})
    ));
}

#[tokio::test]
async fn a_bracket_path_with_escaped_quotes_selects_the_literal_key() {
    let got = pass_params(
        json!({"v.$": "$['Test\\\"\"Name\"']"}),
        json!({"Test\"\"Name\"": 7}),
    )
    .await;
    assert_eq!(got, ExecutionResult::Output(json!({"v": 7})));
}

#[tokio::test]
async fn a_fail_state_without_error_or_cause_reports_them_absent() {
    let d = run(
        r#"{"StartAt":"F","States":{"F":{"Type":"Fail"}}}"#,
        json!({}),
        HandlerRegistry::new(),
    )
    .await;
    assert_eq!(d.status.as_str(), "FAILED");
    assert_eq!((d.error, d.cause), (None, None));
}
