//! Conformance suite: small definitions per feature with expected outputs (values from the AWS
//! Step Functions developer guide's examples where it gives them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use statemachine::{
    Engine, EngineConfig, ExecutionStatus, ExecutionStore, HandlerRegistry, HistoryEventType as T,
    SqliteExecutionStore, TaskFailure, VirtualClock,
};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function";

// ------------------------------------------------------------------------------------------
// Pass and input/output processing
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn pass_result_and_result_path() {
    let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"x":1},"ResultPath":"$.r","End":true}}}"#;
    assert_eq!(
        output(def, json!({"a": 1})).await,
        json!({"a": 1, "r": {"x": 1}})
    );
}

#[tokio::test]
async fn pass_parameters_with_context_and_intrinsics() {
    let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{
        "name.$":"$.who","exec.$":"$$.Execution.Name","state.$":"$$.State.Name",
        "greeting.$":"States.Format('Hello, {}!', $.who)","const":[1,2]},"End":true}}}"#;
    assert_eq!(
        output(def, json!({"who": "Ana"})).await,
        json!({"name": "Ana", "exec": "run", "state": "P", "greeting": "Hello, Ana!", "const": [1, 2]})
    );
}

/// The developer guide's "InputPath, Parameters and ResultSelector" example chain, through a
/// Lambda handler: InputPath → Parameters → result → ResultSelector → ResultPath → OutputPath.
#[tokio::test]
async fn io_processing_order_docs_example() {
    let reg = HandlerRegistry::new().with_fn("HelloFunction", |input: Value, _| async move {
        Ok(json!({"resourceType": "elasticmapreduce", "ClusterId": "AKIAIOSFODNN7EXAMPLE", "Echo": input}))
    });
    let def = format!(
        r#"{{"StartAt":"T","States":{{"T":{{"Type":"Task","Resource":"{LAMBDA}:HelloFunction",
        "InputPath":"$.library","Parameters":{{"staticValue":"Just a string","catalog":{{"myFavoriteMovie.$":"$.movies[0]"}}}},
        "ResultSelector":{{"ClusterId.$":"$.ClusterId","ResourceType.$":"$.resourceType","Sent.$":"$.Echo"}},
        "ResultPath":"$.taskresult","OutputPath":"$.taskresult","End":true}}}}}}"#
    );
    let d = run(
        &def,
        json!({"comment": "x", "library": {"movies": ["Dune", "Alien"]}}),
        reg,
    )
    .await;
    assert_eq!(
        d.output.unwrap(),
        json!({"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce",
               "Sent": {"staticValue": "Just a string", "catalog": {"myFavoriteMovie": "Dune"}}})
    );
}

/// Developer guide ResultPath examples: `$` replaces, `null` discards, a path merges.
#[tokio::test]
async fn result_path_variants() {
    let input = json!({"comment": "This is a test of the input and output of a Task state.", "details": "Default example", "who": "AWS Step Functions"});
    let reg = || {
        HandlerRegistry::new().with_fn("HelloFunction", |i: Value, _| async move {
            Ok(json!(format!(
                "Hello, {}!",
                i["who"].as_str().unwrap_or_default()
            )))
        })
    };
    let mk = |rp: &str| {
        format!(
            r#"{{"StartAt":"T","States":{{"T":{{"Type":"Task","Resource":"{LAMBDA}:HelloFunction",{rp}"End":true}}}}}}"#
        )
    };
    let d = run(&mk(""), input.clone(), reg()).await;
    assert_eq!(d.output.unwrap(), json!("Hello, AWS Step Functions!"));
    let d = run(&mk(r#""ResultPath":null,"#), input.clone(), reg()).await;
    assert_eq!(d.output.unwrap(), input);
    let d = run(&mk(r#""ResultPath":"$.taskresult","#), input.clone(), reg()).await;
    let mut expected = input.clone();
    expected["taskresult"] = json!("Hello, AWS Step Functions!");
    assert_eq!(d.output.unwrap(), expected);
    let d = run(&mk(r#""ResultPath":"$.a.b.c","#), input.clone(), reg()).await;
    assert_eq!(
        d.output.unwrap()["a"],
        json!({"b": {"c": "Hello, AWS Step Functions!"}})
    );
}

#[tokio::test]
async fn input_and_output_path_null() {
    let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":null,"Next":"Q"},"Q":{"Type":"Pass","Result":{"z":1},"OutputPath":null,"End":true}}}"#;
    assert_eq!(output(def, json!({"a": 1})).await, json!({}));
}

#[tokio::test]
async fn missing_path_fails_with_runtime_error() {
    let def =
        r#"{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.missing","End":true}}}"#;
    let d = run(def, json!({"a": 1}), HandlerRegistry::new()).await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
    let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":"$.nope"},"End":true}}}"#;
    let d = run(def, json!({}), HandlerRegistry::new()).await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
    assert!(d.cause.unwrap().contains("$.nope"));
}

#[tokio::test]
async fn result_path_match_failure() {
    let def = r#"{"StartAt":"P","States":{
        "P":{"Type":"Pass","Result":1,"ResultPath":"$.a.b","End":true}}}"#;
    let d = run(def, json!({"a": "string"}), HandlerRegistry::new()).await;
    assert_eq!(d.error.as_deref(), Some("States.ResultPathMatchFailure"));
}

#[tokio::test]
async fn intrinsic_functions_in_a_definition() {
    let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{
        "partition.$":"States.ArrayPartition($.inputArray, 4)",
        "range.$":"States.ArrayRange(1, 9, 2)",
        "hash.$":"States.Hash($.Data, $.Algorithm)",
        "merged.$":"States.JsonMerge($.json1, $.json2, false)",
        "split.$":"States.StringSplit($.inputString, $.splitter)",
        "len.$":"States.ArrayLength($.inputArray)",
        "encoded.$":"States.Base64Encode($.input)",
        "add.$":"States.MathAdd($.value1, $.step)",
        "uuidLen.$":"States.ArrayLength(States.StringSplit(States.UUID(), '-'))"
      },"End":true}}}"#;
    let input = json!({
        "inputArray": [1,2,3,4,5,6,7,8,9], "Data": "input data", "Algorithm": "SHA-1",
        "json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3},
        "inputString": "This.is+a,test=string", "splitter": ".+,=", "input": "Data to encode",
        "value1": 111, "step": -1
    });
    assert_eq!(
        output(def, input).await,
        json!({
            "partition": [[1,2,3,4],[5,6,7,8],[9]],
            "range": [1,3,5,7,9],
            "hash": "aaff4a450a104cd177d28d18d74485e8cae074b7",
            "merged": {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3},
            "split": ["This","is","a","test","string"],
            "len": 9,
            "encoded": "RGF0YSB0byBlbmNvZGU=",
            "add": 110,
            "uuidLen": 5
        })
    );
}

#[tokio::test]
async fn intrinsic_failure_can_be_observed() {
    let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"m.$":"States.JsonMerge($.a, $.b, true)"},"End":true}}}"#;
    let d = run(def, json!({"a": {}, "b": {}}), HandlerRegistry::new()).await;
    assert_eq!(d.error.as_deref(), Some("States.IntrinsicFailure"));
}

// ------------------------------------------------------------------------------------------
// Choice
// ------------------------------------------------------------------------------------------

async fn choose(rule: Value, input: Value) -> String {
    let mut rule = rule;
    rule["Next"] = json!("Yes");
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [rule], "Default": "No"},
        "Yes": {"Type": "Pass", "Result": "yes", "End": true},
        "No": {"Type": "Pass", "Result": "no", "End": true}
    }});
    output(&def.to_string(), input)
        .await
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn choice_every_operator() {
    let i = json!({"s": "b", "s2": "c", "n": 5, "n2": 7, "t": "2024-01-01T00:00:00Z", "t2": "2024-06-01T00:00:00Z",
                   "b": true, "b2": true, "z": null, "f": "report-2024.csv"});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"Variable": "$.s", "StringEquals": "b"}), "yes"),
        (json!({"Variable": "$.s", "StringEqualsPath": "$.s2"}), "no"),
        (json!({"Variable": "$.s", "StringLessThan": "c"}), "yes"),
        (
            json!({"Variable": "$.s", "StringLessThanPath": "$.s2"}),
            "yes",
        ),
        (json!({"Variable": "$.s", "StringGreaterThan": "c"}), "no"),
        (
            json!({"Variable": "$.s2", "StringGreaterThanPath": "$.s"}),
            "yes",
        ),
        (
            json!({"Variable": "$.s", "StringLessThanEquals": "b"}),
            "yes",
        ),
        (
            json!({"Variable": "$.s", "StringLessThanEqualsPath": "$.s2"}),
            "yes",
        ),
        (
            json!({"Variable": "$.s", "StringGreaterThanEquals": "b"}),
            "yes",
        ),
        (
            json!({"Variable": "$.s", "StringGreaterThanEqualsPath": "$.s2"}),
            "no",
        ),
        (
            json!({"Variable": "$.f", "StringMatches": "report-*.csv"}),
            "yes",
        ),
        (json!({"Variable": "$.f", "StringMatches": "*.json"}), "no"),
        (json!({"Variable": "$.n", "NumericEquals": 5}), "yes"),
        (
            json!({"Variable": "$.n", "NumericEqualsPath": "$.n2"}),
            "no",
        ),
        (json!({"Variable": "$.n", "NumericLessThan": 6}), "yes"),
        (
            json!({"Variable": "$.n", "NumericLessThanPath": "$.n2"}),
            "yes",
        ),
        (json!({"Variable": "$.n", "NumericGreaterThan": 5}), "no"),
        (
            json!({"Variable": "$.n2", "NumericGreaterThanPath": "$.n"}),
            "yes",
        ),
        (
            json!({"Variable": "$.n", "NumericLessThanEquals": 5}),
            "yes",
        ),
        (
            json!({"Variable": "$.n", "NumericLessThanEqualsPath": "$.n2"}),
            "yes",
        ),
        (
            json!({"Variable": "$.n", "NumericGreaterThanEquals": 5.5}),
            "no",
        ),
        (
            json!({"Variable": "$.n2", "NumericGreaterThanEqualsPath": "$.n"}),
            "yes",
        ),
        (
            json!({"Variable": "$.t", "TimestampEquals": "2024-01-01T00:00:00Z"}),
            "yes",
        ),
        (
            json!({"Variable": "$.t", "TimestampEqualsPath": "$.t2"}),
            "no",
        ),
        (
            json!({"Variable": "$.t", "TimestampLessThan": "2024-01-02T00:00:00Z"}),
            "yes",
        ),
        (
            json!({"Variable": "$.t", "TimestampLessThanPath": "$.t2"}),
            "yes",
        ),
        (
            json!({"Variable": "$.t", "TimestampGreaterThan": "2024-01-02T00:00:00Z"}),
            "no",
        ),
        (
            json!({"Variable": "$.t2", "TimestampGreaterThanPath": "$.t"}),
            "yes",
        ),
        (
            json!({"Variable": "$.t", "TimestampLessThanEquals": "2024-01-01T00:00:00Z"}),
            "yes",
        ),
        (
            json!({"Variable": "$.t", "TimestampLessThanEqualsPath": "$.t2"}),
            "yes",
        ),
        (
            json!({"Variable": "$.t", "TimestampGreaterThanEquals": "2024-01-01T00:00:01Z"}),
            "no",
        ),
        (
            json!({"Variable": "$.t2", "TimestampGreaterThanEqualsPath": "$.t"}),
            "yes",
        ),
        (json!({"Variable": "$.b", "BooleanEquals": true}), "yes"),
        (
            json!({"Variable": "$.b", "BooleanEqualsPath": "$.b2"}),
            "yes",
        ),
        (json!({"Variable": "$.z", "IsNull": true}), "yes"),
        (json!({"Variable": "$.s", "IsNull": true}), "no"),
        (json!({"Variable": "$.s", "IsPresent": true}), "yes"),
        (json!({"Variable": "$.missing", "IsPresent": true}), "no"),
        (json!({"Variable": "$.n", "IsNumeric": true}), "yes"),
        (json!({"Variable": "$.s", "IsString": true}), "yes"),
        (json!({"Variable": "$.b", "IsBoolean": true}), "yes"),
        (json!({"Variable": "$.t", "IsTimestamp": true}), "yes"),
        (json!({"Variable": "$.s", "IsTimestamp": true}), "no"),
        (
            json!({"And": [{"Variable": "$.n", "NumericEquals": 5}, {"Variable": "$.s", "StringEquals": "b"}]}),
            "yes",
        ),
        (
            json!({"Or": [{"Variable": "$.n", "NumericEquals": 1}, {"Variable": "$.s", "StringEquals": "x"}]}),
            "no",
        ),
        (
            json!({"Not": {"Variable": "$.s", "StringEquals": "x"}}),
            "yes",
        ),
    ];
    for (rule, expected) in cases {
        assert_eq!(
            choose(rule.clone(), i.clone()).await,
            expected,
            "rule {rule}"
        );
    }
}

#[tokio::test]
async fn choice_without_match_or_default_fails() {
    let def = r#"{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","NumericEquals":1,"Next":"D"}]},"D":{"Type":"Succeed"}}}"#;
    let d = run(def, json!({"a": 2}), HandlerRegistry::new()).await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some("States.NoChoiceMatched"));
}

// ------------------------------------------------------------------------------------------
// Wait, Succeed, Fail
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn wait_uses_virtual_time_and_auto_advances() {
    let e = engine(HandlerRegistry::new());
    let def = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"Next":"W2"},
        "W2":{"Type":"Wait","SecondsPath":"$.s","Next":"W3"},
        "W3":{"Type":"Wait","Timestamp":"2024-01-02T00:00:00Z","Next":"W4"},
        "W4":{"Type":"Wait","TimestampPath":"$.ts","End":true}}}"#;
    let arn = e.create_state_machine("w", def).unwrap();
    let started = std::time::Instant::now();
    let x = e
        .start_execution(&arn, None, json!({"s": 60, "ts": "2024-01-03T00:00:00Z"}))
        .await
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let d = e.describe_execution(&x).unwrap();
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(
        e.now(),
        chrono::DateTime::parse_from_rfc3339("2024-01-03T00:00:00Z").unwrap()
    );
    assert_eq!((d.stop_date.unwrap() - d.start_date).num_hours(), 48);
}

#[tokio::test]
async fn wait_without_auto_advance_needs_advance_time() {
    let e = engine_with(
        HandlerRegistry::new(),
        EngineConfig {
            auto_advance_timers: false,
            ..Default::default()
        },
    );
    let def = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":10,"End":true}}}"#;
    let arn = e.create_state_machine("w", def).unwrap();
    let x = e
        .start_execution(&arn, None, json!({"a": 1}))
        .await
        .unwrap();
    assert_eq!(
        e.describe_execution(&x).unwrap().status,
        ExecutionStatus::Running
    );
    let r = e.advance_time(chrono::Duration::seconds(5)).await.unwrap();
    assert!(r.completed.is_empty());
    assert_eq!(
        e.describe_execution(&x).unwrap().status,
        ExecutionStatus::Running
    );
    let r = e.advance_time(chrono::Duration::seconds(5)).await.unwrap();
    assert_eq!(r.completed, vec![x.clone()]);
    let d = e.describe_execution(&x).unwrap();
    assert_eq!(d.output, Some(json!({"a": 1})));
}

#[tokio::test]
async fn next_timer_after_names_the_earliest_parked_timer() {
    let e = engine_with(
        HandlerRegistry::new(),
        EngineConfig {
            auto_advance_timers: false,
            ..Default::default()
        },
    );
    let start = e.now();
    assert_eq!(e.next_timer_after(start).unwrap(), None, "nothing runs yet");
    let short = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":10,"End":true}}}"#;
    let long = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":30,"End":true}}}"#;
    let short = e.create_state_machine("short", short).unwrap();
    let long = e.create_state_machine("long", long).unwrap();
    e.start_execution(&long, None, json!({})).await.unwrap();
    e.start_execution(&short, None, json!({})).await.unwrap();
    assert_eq!(
        e.next_timer_after(start).unwrap(),
        Some(start + chrono::Duration::seconds(10))
    );
    e.advance_time(chrono::Duration::seconds(10)).await.unwrap();
    assert_eq!(
        e.next_timer_after(start).unwrap(),
        Some(start + chrono::Duration::seconds(30)),
        "the fired timer is gone, the later one is next"
    );
    assert_eq!(
        e.next_timer_after(start + chrono::Duration::seconds(30))
            .unwrap(),
        None,
        "only timers after the instant given"
    );
    e.advance_time(chrono::Duration::seconds(20)).await.unwrap();
    assert_eq!(
        e.next_timer_after(start).unwrap(),
        None,
        "both executions ended"
    );
}

#[tokio::test]
async fn succeed_and_fail_states() {
    let def = r#"{"StartAt":"S","States":{"S":{"Type":"Succeed","OutputPath":"$.x"}}}"#;
    assert_eq!(output(def, json!({"x": 7})).await, json!(7));
    let def =
        r#"{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"MyError","Cause":"it broke"}}}"#;
    let d = run(def, json!({}), HandlerRegistry::new()).await;
    assert_eq!(
        (d.status, d.error.as_deref(), d.cause.as_deref()),
        (ExecutionStatus::Failed, Some("MyError"), Some("it broke"))
    );
    let def = r#"{"StartAt":"F","States":{"F":{"Type":"Fail","ErrorPath":"$.e","CausePath":"States.Format('bad {}', $.n)"}}}"#;
    let d = run(def, json!({"e": "Dyn", "n": 3}), HandlerRegistry::new()).await;
    assert_eq!(
        (d.error.as_deref(), d.cause.as_deref()),
        (Some("Dyn"), Some("bad 3"))
    );
}

// ------------------------------------------------------------------------------------------
// Tasks, Retry, Catch
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn lambda_invoke_wraps_payload() {
    let reg = HandlerRegistry::new().with_fn("init-workflow", |input: Value, ctx| async move {
        assert_eq!(ctx.state_name, "Init");
        Ok(json!({"got": input}))
    });
    let def = r#"{"StartAt":"Init","States":{"Init":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
        "Parameters":{"FunctionName":"arn:aws:lambda:us-east-1:123456789012:function:init-workflow","Payload":{"v.$":"$.v"}},
        "End":true}}}"#;
    let d = run(def, json!({"v": 3}), reg).await;
    let out = d.output.unwrap();
    assert_eq!(out["Payload"], json!({"got": {"v": 3}}));
    assert_eq!(out["StatusCode"], json!(200));
    assert_eq!(out["ExecutedVersion"], json!("$LATEST"));
}

#[tokio::test]
async fn handler_error_name_and_cause_propagate() {
    let reg = HandlerRegistry::new().with_fn("f", |_: Value, _| async move {
        Err(TaskFailure::new("WorkflowConflict", "version mismatch"))
    });
    let def = format!(
        r#"{{"StartAt":"T","States":{{"T":{{"Type":"Task","Resource":"{LAMBDA}:f","End":true}}}}}}"#
    );
    let d = run(&def, json!({}), reg).await;
    assert_eq!(
        (d.error.as_deref(), d.cause.as_deref()),
        (Some("WorkflowConflict"), Some("version mismatch"))
    );
}

#[tokio::test]
async fn unregistered_function_is_a_clear_error() {
    let def = format!(
        r#"{{"StartAt":"T","States":{{"T":{{"Type":"Task","Resource":"{LAMBDA}:ghost","End":true}}}}}}"#
    );
    let d = run(&def, json!({}), HandlerRegistry::new()).await;
    assert_eq!(d.error.as_deref(), Some("Lambda.ResourceNotFoundException"));
    assert!(d.cause.unwrap().contains("ghost"));
    let def = r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:putItem","End":true}}}"#;
    let d = run(def, json!({}), HandlerRegistry::new()).await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
    assert!(d.cause.unwrap().contains("dynamodb:putItem"));
}

fn flaky(fail_times: u32, error: &'static str) -> (Arc<AtomicU32>, HandlerRegistry) {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let reg = HandlerRegistry::new().with_fn("flaky", move |_: Value, ctx| {
        let c = c.clone();
        async move {
            let n = c.fetch_add(1, Ordering::SeqCst);
            assert_eq!(ctx.attempt, n);
            if n < fail_times {
                Err(TaskFailure::new(error, format!("attempt {n}")))
            } else {
                Ok(json!({"attempts": n + 1}))
            }
        }
    });
    (calls, reg)
}

#[tokio::test]
async fn retry_then_success_with_backoff_on_virtual_clock() {
    let (calls, reg) = flaky(2, "Transient");
    let e = engine(reg);
    let def = format!(
        r#"{{"StartAt":"T","States":{{"T":{{"Type":"Task","Resource":"{LAMBDA}:flaky",
        "Retry":[{{"ErrorEquals":["Transient"],"IntervalSeconds":3,"BackoffRate":2,"MaxAttempts":3}}],"End":true}}}}}}"#
    );
    let arn = e.create_state_machine("r", &def).unwrap();
    let x = e.start_execution(&arn, None, json!({})).await.unwrap();
    let d = e.describe_execution(&x).unwrap();
    assert_eq!(d.output, Some(json!({"attempts": 3})));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // 3s + 6s of virtual backoff.
    assert_eq!((d.stop_date.unwrap() - d.start_date).num_seconds(), 9);
    let h = e.get_execution_history(&x).unwrap();
    assert_eq!(
        h.iter().filter(|e| e.event_type == T::TaskFailed).count(),
        2
    );
    assert_eq!(
        h.iter()
            .filter(|e| e.event_type == T::TaskScheduled)
            .count(),
        3
    );
}

#[tokio::test]
async fn retry_exhausted_then_catch_with_result_path() {
    let (calls, reg) = flaky(10, "Boom");
    let def = format!(
        r#"{{"StartAt":"T","States":{{
        "T":{{"Type":"Task","Resource":"{LAMBDA}:flaky",
            "Retry":[{{"ErrorEquals":["States.TaskFailed"],"IntervalSeconds":1,"MaxAttempts":2}}],
            "Catch":[{{"ErrorEquals":["Other"],"Next":"Wrong"}},{{"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"Handled"}}],
            "End":true}},
        "Wrong":{{"Type":"Fail","Error":"wrong"}},
        "Handled":{{"Type":"Pass","End":true}}}}}}"#
    );
    let d = run(&def, json!({"keep": 1}), reg).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        d.output.unwrap(),
        json!({"keep": 1, "error": {"Error": "Boom", "Cause": "attempt 2"}})
    );
}

#[tokio::test]
async fn max_attempts_zero_never_retries_and_default_catch_result_path_replaces() {
    let (calls, reg) = flaky(10, "Boom");
    let def = format!(
        r#"{{"StartAt":"T","States":{{
        "T":{{"Type":"Task","Resource":"{LAMBDA}:flaky","Retry":[{{"ErrorEquals":["Boom"],"MaxAttempts":0}}],
            "Catch":[{{"ErrorEquals":["Boom"],"Next":"H"}}],"End":true}},
        "H":{{"Type":"Pass","End":true}}}}}}"#
    );
    let d = run(&def, json!({"keep": 1}), reg).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        d.output.unwrap(),
        json!({"Error": "Boom", "Cause": "attempt 0"})
    );
}

#[tokio::test]
async fn sync_handler_timeout_is_real_time() {
    let reg = HandlerRegistry::new().with_fn("slow", |_: Value, _| async move {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        Ok(json!(1))
    });
    let def = format!(
        r#"{{"StartAt":"T","States":{{"T":{{"Type":"Task","Resource":"{LAMBDA}:slow","TimeoutSeconds":1,
        "Catch":[{{"ErrorEquals":["States.Timeout"],"Next":"TO"}}],"End":true}},"TO":{{"Type":"Pass","Result":"timed out","End":true}}}}}}"#
    );
    let d = run(&def, json!({}), reg).await;
    assert_eq!(d.output, Some(json!("timed out")));
}

// ------------------------------------------------------------------------------------------
// Parallel and Map
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn parallel_branches_collect_results() {
    let def = r#"{"StartAt":"P","States":{"P":{"Type":"Parallel","ResultPath":"$.out","End":true,"Branches":[
        {"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"a.$":"$.x"},"End":true}}},
        {"StartAt":"B","States":{"B":{"Type":"Wait","Seconds":5,"Next":"B2"},"B2":{"Type":"Pass","Result":"b","End":true}}}
    ]}}}"#;
    assert_eq!(
        output(def, json!({"x": 1})).await,
        json!({"x": 1, "out": [{"a": 1}, "b"]})
    );
}

#[tokio::test]
async fn parallel_branch_failure_is_caught_with_the_branch_error() {
    let def = r#"{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,
        "Catch":[{"ErrorEquals":["BranchBoom"],"ResultPath":"$.err","Next":"C"}],"Branches":[
        {"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},
        {"StartAt":"B","States":{"B":{"Type":"Fail","Error":"BranchBoom","Cause":"b"}}}
    ]},"C":{"Type":"Pass","End":true}}}"#;
    assert_eq!(
        output(def, json!({})).await,
        json!({"err": {"Error": "BranchBoom", "Cause": "b"}})
    );
}

#[tokio::test]
async fn map_with_item_selector_and_max_concurrency() {
    let active = Arc::new(AtomicU32::new(0));
    let peak = Arc::new(AtomicU32::new(0));
    let (a, p) = (active.clone(), peak.clone());
    let reg = HandlerRegistry::new().with_fn("double", move |input: Value, _| {
        let (a, p) = (a.clone(), p.clone());
        async move {
            let now = a.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            tokio::task::yield_now().await;
            a.fetch_sub(1, Ordering::SeqCst);
            Ok(json!(input["value"].as_i64().unwrap_or(0) * 2))
        }
    });
    let def = format!(
        r#"{{"StartAt":"M","States":{{"M":{{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":2,
        "ItemSelector":{{"value.$":"$$.Map.Item.Value","index.$":"$$.Map.Item.Index","tag.$":"$.tag"}},
        "ItemProcessor":{{"ProcessorConfig":{{"Mode":"INLINE"}},"StartAt":"D","States":{{
            "D":{{"Type":"Task","Resource":"{LAMBDA}:double","ResultPath":"$.doubled","Next":"F"}},
            "F":{{"Type":"Pass","Parameters":{{"i.$":"$.index","d.$":"$.doubled","t.$":"$.tag"}},"End":true}}}}}},
        "ResultPath":"$.results","End":true}}}}}}"#
    );
    let d = run(&def, json!({"items": [1, 2, 3, 4, 5], "tag": "x"}), reg).await;
    let out = d.output.unwrap();
    assert_eq!(
        out["results"],
        json!([{"i":0,"d":2,"t":"x"},{"i":1,"d":4,"t":"x"},{"i":2,"d":6,"t":"x"},{"i":3,"d":8,"t":"x"},{"i":4,"d":10,"t":"x"}])
    );
    assert!(peak.load(Ordering::SeqCst) <= 2);
}

#[tokio::test]
async fn map_legacy_iterator_and_parameters() {
    let def = r#"{"StartAt":"M","States":{"M":{"Type":"Map","Parameters":{"v.$":"$$.Map.Item.Value"},
        "Iterator":{"StartAt":"P","States":{"P":{"Type":"Pass","OutputPath":"$.v","End":true}}},"End":true}}}"#;
    assert_eq!(output(def, json!(["a", "b"])).await, json!(["a", "b"]));
}

#[tokio::test]
async fn map_iteration_failure_fails_the_map() {
    let def = r#"{"StartAt":"M","States":{"M":{"Type":"Map","End":true,
        "ItemProcessor":{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$","NumericEquals":2,"Next":"F"}],"Default":"OK"},
            "F":{"Type":"Fail","Error":"Two","Cause":"item 2"},"OK":{"Type":"Succeed"}}}}}}"#;
    let d = run(def, json!([1, 2, 3]), HandlerRegistry::new()).await;
    assert_eq!(
        (d.error.as_deref(), d.cause.as_deref()),
        (Some("Two"), Some("item 2"))
    );
}

#[tokio::test]
async fn map_tolerated_failures() {
    let def = r#"{"StartAt":"M","States":{"M":{"Type":"Map","ToleratedFailureCount":1,"End":true,
        "ItemProcessor":{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$","NumericGreaterThan":1,"Next":"F"}],"Default":"OK"},
            "F":{"Type":"Fail","Error":"Big"},"OK":{"Type":"Succeed"}}}}}}"#;
    let out = output(def, json!([1, 2])).await;
    assert_eq!(out, json!([1, {"Error": "Big", "Cause": ""}]));
    let d = run(def, json!([1, 2, 3]), HandlerRegistry::new()).await;
    assert_eq!(
        d.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
}

#[tokio::test]
async fn empty_map_yields_empty_array() {
    let def = r#"{"StartAt":"M","States":{"M":{"Type":"Map","End":true,"ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}}}}"#;
    assert_eq!(output(def, json!([])).await, json!([]));
}

// ------------------------------------------------------------------------------------------
// Callbacks
// ------------------------------------------------------------------------------------------

fn callback_def(extra: &str) -> String {
    format!(
        r#"{{"StartAt":"Wait","States":{{
        "Wait":{{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters":{{"FunctionName":"request-review","Payload":{{"token.$":"$$.Task.Token","id.$":"$.id"}}}},
            {extra}
            "ResultPath":"$.feedback",
            "Catch":[{{"ErrorEquals":["States.Timeout"],"ResultPath":"$.failure","Next":"TimedOut"}},
                     {{"ErrorEquals":["States.HeartbeatTimeout"],"ResultPath":"$.failure","Next":"NoHeartbeat"}}],
            "Next":"Done"}},
        "Done":{{"Type":"Succeed"}},
        "TimedOut":{{"Type":"Pass","Result":"timed out","ResultPath":"$.outcome","End":true}},
        "NoHeartbeat":{{"Type":"Pass","Result":"no heartbeat","ResultPath":"$.outcome","End":true}}}}}}"#
    )
}

#[tokio::test]
async fn wait_for_task_token_success() {
    let (tokens, reg) = token_sink();
    let e = engine(reg);
    let arn = e.create_state_machine("cb", &callback_def("")).unwrap();
    let x = e
        .start_execution(&arn, None, json!({"id": 1}))
        .await
        .unwrap();
    assert_eq!(
        e.describe_execution(&x).unwrap().status,
        ExecutionStatus::Running
    );
    let pending = e.pending_callbacks(&x).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].state_name, "Wait");
    assert_eq!(
        pending[0].resource,
        "arn:aws:states:::lambda:invoke.waitForTaskToken"
    );
    let token = tokens.lock().unwrap()[0].clone();
    e.send_task_success(&token, json!({"decision": "approve"}))
        .await
        .unwrap();
    let d = e.describe_execution(&x).unwrap();
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(
        d.output.unwrap(),
        json!({"id": 1, "feedback": {"decision": "approve"}})
    );
    assert!(e.pending_callbacks(&x).unwrap().is_empty());
    // Token reuse.
    let err = e.send_task_success(&token, json!({})).await.unwrap_err();
    assert_eq!(err.name(), "TaskTimedOut");
    let err = e.send_task_failure(&token, "E", "c").await.unwrap_err();
    assert_eq!(err.name(), "TaskTimedOut");
    // Unknown and malformed tokens.
    assert_eq!(
        e.send_task_success("not-a-token", json!({}))
            .await
            .unwrap_err()
            .name(),
        "InvalidToken"
    );
    assert_eq!(
        e.send_task_success("", json!({})).await.unwrap_err().name(),
        "InvalidToken"
    );
    // History: TaskSubmitted is recorded with the handler's response, and the token never appears.
    let h = e.get_execution_history(&x).unwrap();
    assert!(h.iter().any(|ev| ev.event_type == T::TaskSubmitted));
    let _ = h
        .iter()
        .filter(|ev| ev.event_type != T::TaskScheduled)
        .map(|ev| {
            assert!(!serde_json::to_string(&ev.details).unwrap().contains(&token));
        })
        .count();
}

#[tokio::test]
async fn wait_for_task_token_failure() {
    let (tokens, reg) = token_sink();
    let e = engine(reg);
    let arn = e.create_state_machine("cb", &callback_def("")).unwrap();
    let x = e
        .start_execution(&arn, None, json!({"id": 1}))
        .await
        .unwrap();
    let token = tokens.lock().unwrap()[0].clone();
    e.send_task_failure(&token, "ReviewRejected", "no")
        .await
        .unwrap();
    let d = e.describe_execution(&x).unwrap();
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(
        (d.error.as_deref(), d.cause.as_deref()),
        (Some("ReviewRejected"), Some("no"))
    );
}

#[tokio::test]
async fn callback_timeout_fires_only_on_advance_time() {
    let (tokens, reg) = token_sink();
    let e = engine(reg);
    let arn = e
        .create_state_machine("cb", &callback_def(r#""TimeoutSecondsPath":"$.timeout","#))
        .unwrap();
    let x = e
        .start_execution(&arn, None, json!({"id": 1, "timeout": 3600}))
        .await
        .unwrap();
    let p = e.pending_callbacks(&x).unwrap();
    assert_eq!(
        p[0].deadline,
        Some(base_time() + chrono::Duration::seconds(3600))
    );
    e.run_due().await.unwrap();
    assert_eq!(
        e.describe_execution(&x).unwrap().status,
        ExecutionStatus::Running
    );
    e.advance_time(chrono::Duration::seconds(3599))
        .await
        .unwrap();
    assert_eq!(
        e.describe_execution(&x).unwrap().status,
        ExecutionStatus::Running
    );
    let report = e.advance_time(chrono::Duration::seconds(1)).await.unwrap();
    assert_eq!(report.completed, vec![x.clone()]);
    let d = e.describe_execution(&x).unwrap();
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    let out = d.output.unwrap();
    assert_eq!(out["outcome"], json!("timed out"));
    assert_eq!(out["failure"]["Error"], json!("States.Timeout"));
    let token = tokens.lock().unwrap()[0].clone();
    assert_eq!(
        e.send_task_success(&token, json!({}))
            .await
            .unwrap_err()
            .name(),
        "TaskTimedOut"
    );
    let h = e.get_execution_history(&x).unwrap();
    assert!(h.iter().any(|ev| ev.event_type == T::TaskTimedOut));
}

#[tokio::test]
async fn heartbeat_timeout_and_heartbeats() {
    let (tokens, reg) = token_sink();
    let e = engine(reg);
    let arn = e
        .create_state_machine(
            "cb",
            &callback_def(r#""HeartbeatSeconds":60,"TimeoutSeconds":600,"#),
        )
        .unwrap();
    let x = e
        .start_execution(&arn, None, json!({"id": 1}))
        .await
        .unwrap();
    let token = tokens.lock().unwrap()[0].clone();
    e.advance_time(chrono::Duration::seconds(50)).await.unwrap();
    e.send_task_heartbeat(&token).await.unwrap();
    e.advance_time(chrono::Duration::seconds(50)).await.unwrap();
    assert_eq!(
        e.describe_execution(&x).unwrap().status,
        ExecutionStatus::Running
    );
    e.advance_time(chrono::Duration::seconds(10)).await.unwrap();
    let d = e.describe_execution(&x).unwrap();
    assert_eq!(d.output.unwrap()["outcome"], json!("no heartbeat"));
}

#[tokio::test]
async fn callback_inside_map_iterations() {
    let (tokens, reg) = token_sink();
    let e = engine(reg);
    let def = r#"{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":2,"End":true,
        "ItemProcessor":{"StartAt":"Ask","States":{"Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters":{"FunctionName":"request-review","Payload":{"token.$":"$$.Task.Token","id.$":"$"}},"End":true}}}}}}"#;
    let arn = e.create_state_machine("m", def).unwrap();
    let x = e
        .start_execution(&arn, None, json!([10, 20, 30]))
        .await
        .unwrap();
    assert_eq!(
        tokens.lock().unwrap().len(),
        2,
        "MaxConcurrency 2 allows two open callbacks"
    );
    assert_eq!(e.pending_callbacks(&x).unwrap().len(), 2);
    let t1 = tokens.lock().unwrap()[1].clone();
    e.send_task_success(&t1, json!("second")).await.unwrap();
    assert_eq!(tokens.lock().unwrap().len(), 3);
    let all = tokens.lock().unwrap().clone();
    e.send_task_success(&all[2], json!("third")).await.unwrap();
    assert_eq!(
        e.describe_execution(&x).unwrap().status,
        ExecutionStatus::Running
    );
    e.send_task_success(&all[0], json!("first")).await.unwrap();
    let d = e.describe_execution(&x).unwrap();
    assert_eq!(d.output, Some(json!(["first", "second", "third"])));
}

#[tokio::test]
async fn callback_in_parallel_branch_closed_when_sibling_fails() {
    let (tokens, reg) = token_sink();
    let e = engine(reg);
    let def = r#"{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
        {"StartAt":"Ask","States":{"Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters":{"FunctionName":"request-review","Payload":{"token.$":"$$.Task.Token"}},"End":true}}},
        {"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":10,"Next":"F"},"F":{"Type":"Fail","Error":"Late"}}}]}}}"#;
    let arn = e.create_state_machine("p", def).unwrap();
    let x = e.start_execution(&arn, None, json!({})).await.unwrap();
    // The Wait timer auto-advances, the sibling fails and the open callback is closed.
    let d = e.describe_execution(&x).unwrap();
    assert_eq!(d.error.as_deref(), Some("Late"));
    let token = tokens.lock().unwrap()[0].clone();
    assert_eq!(
        e.send_task_success(&token, json!(1))
            .await
            .unwrap_err()
            .name(),
        "TaskTimedOut"
    );
}

// ------------------------------------------------------------------------------------------
// Durability
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn durable_resume_in_a_new_engine() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.sqlite");
    let def = r#"{"StartAt":"M","States":{"M":{"Type":"Map","End":true,"ResultPath":"$.r","ItemsPath":"$.x",
        "ItemProcessor":{"StartAt":"Ask","States":{"Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters":{"FunctionName":"request-review","Payload":{"token.$":"$$.Task.Token"}},"ResultPath":"$.answer","Next":"After"},
            "After":{"Type":"Wait","Seconds":60,"Next":"Out"},"Out":{"Type":"Pass","OutputPath":"$.answer","End":true}}}}}}"#;
    let (tokens, reg) = token_sink();
    let exec = {
        let store: Arc<dyn ExecutionStore> = Arc::new(SqliteExecutionStore::open(&db).unwrap());
        let clock = Arc::new(VirtualClock::fixed(store.clone(), base_time()).unwrap());
        let e = Engine::new(store, reg, clock, EngineConfig::default());
        let arn = e.create_state_machine("durable", def).unwrap();
        let x = e
            .start_execution(&arn, Some("d2"), json!({"x": [{"a": 1}, {"a": 2}]}))
            .await
            .unwrap();
        assert_eq!(e.pending_callbacks(&x).unwrap().len(), 2);
        e.advance_time(chrono::Duration::seconds(30)).await.unwrap();
        x
    };
    let (_t2, reg2) = token_sink();
    let store: Arc<dyn ExecutionStore> = Arc::new(SqliteExecutionStore::open(&db).unwrap());
    let clock = Arc::new(VirtualClock::fixed(store.clone(), base_time()).unwrap());
    assert_eq!(
        clock.now_for_test(),
        base_time() + chrono::Duration::seconds(30)
    );
    let e = Engine::new(store, reg2, clock, EngineConfig::default());
    assert_eq!(
        e.describe_execution(&exec).unwrap().status,
        ExecutionStatus::Running
    );
    let toks = tokens.lock().unwrap().clone();
    e.send_task_success(&toks[0], json!("one")).await.unwrap();
    assert_eq!(
        e.describe_execution(&exec).unwrap().status,
        ExecutionStatus::Running
    );
    e.send_task_success(&toks[1], json!("two")).await.unwrap();
    let d = e.describe_execution(&exec).unwrap();
    assert_eq!(
        d.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        d.error,
        d.cause
    );
    assert_eq!(d.output.unwrap()["r"], json!(["one", "two"]));
    assert_eq!(
        e.send_task_success(&toks[0], json!(1))
            .await
            .unwrap_err()
            .name(),
        "TaskTimedOut"
    );
}

trait NowForTest {
    fn now_for_test(&self) -> chrono::DateTime<chrono::Utc>;
}

impl NowForTest for VirtualClock {
    fn now_for_test(&self) -> chrono::DateTime<chrono::Utc> {
        statemachine::Clock::now(self)
    }
}

// ------------------------------------------------------------------------------------------
// Child executions
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn start_execution_children_and_idempotent_names() {
    let (tokens, reg) = token_sink();
    let e = engine(reg);
    let child = r#"{"StartAt":"Ask","States":{"Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters":{"FunctionName":"request-review","Payload":{"token.$":"$$.Task.Token"}},"End":true}}}"#;
    let child_arn = e.create_state_machine("child", child).unwrap();
    let parent = r#"{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","End":true,
        "ItemProcessor":{"StartAt":"Start","States":{"Start":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution",
            "Parameters":{"StateMachineArn":"arn:aws:states:local:000000000000:stateMachine:child","Name.$":"$.name","Input.$":"$"},
            "ResultSelector":{"arn.$":"$.ExecutionArn"},"End":true}}}}}}"#;
    let parent_arn = e.create_state_machine("parent", parent).unwrap();
    let input = json!({"items": [{"name": "c1"}, {"name": "c2"}]});
    let p1 = e
        .start_execution(&parent_arn, Some("p1"), input.clone())
        .await
        .unwrap();
    let d = e.describe_execution(&p1).unwrap();
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    let arns: Vec<String> = d
        .output
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["arn"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        arns,
        vec![
            "arn:aws:states:local:000000000000:execution:child:c1".to_string(),
            "arn:aws:states:local:000000000000:execution:child:c2".to_string(),
        ]
    );
    // The children ran until their callbacks.
    assert_eq!(tokens.lock().unwrap().len(), 2);
    let c1 = e.describe_execution(&arns[0]).unwrap();
    assert_eq!(c1.status, ExecutionStatus::Running);
    assert_eq!(c1.parent_execution_arn.as_deref(), Some(p1.as_str()));
    assert_eq!(
        e.list_executions(Some(&child_arn), Some(ExecutionStatus::Running))
            .unwrap()
            .len(),
        2
    );
    // Same names + same input while RUNNING: idempotent.
    let p2 = e
        .start_execution(&parent_arn, Some("p2"), input.clone())
        .await
        .unwrap();
    assert_eq!(
        e.describe_execution(&p2).unwrap().status,
        ExecutionStatus::Succeeded
    );
    assert_eq!(tokens.lock().unwrap().len(), 2, "no new child executions");
    // Same name, different input → ExecutionAlreadyExists surfaces as the task error.
    let p3 = e
        .start_execution(
            &parent_arn,
            Some("p3"),
            json!({"items": [{"name": "c1", "x": 1}]}),
        )
        .await
        .unwrap();
    let d3 = e.describe_execution(&p3).unwrap();
    assert_eq!(
        d3.error.as_deref(),
        Some("StepFunctions.ExecutionAlreadyExistsException")
    );
    // The public API behaves the same way.
    let again = e
        .start_execution(&child_arn, Some("c1"), json!({"name": "c1"}))
        .await
        .unwrap();
    assert_eq!(again, arns[0]);
    let err = e
        .start_execution(&child_arn, Some("c1"), json!({"other": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "ExecutionAlreadyExists");
    let err = e
        .start_execution(
            "arn:aws:states:local:000000000000:stateMachine:nope",
            None,
            json!({}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.name(), "StateMachineDoesNotExist");
    assert_eq!(
        e.describe_execution("arn:nope").unwrap_err().name(),
        "ExecutionDoesNotExist"
    );
}

// ------------------------------------------------------------------------------------------
// History, limits, timeouts, definition updates
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn history_for_a_simple_task() {
    let reg =
        HandlerRegistry::new().with_fn("f", |_: Value, _| async move { Ok(json!({"ok": true})) });
    let e = engine(reg);
    let def = format!(
        r#"{{"StartAt":"T","States":{{"T":{{"Type":"Task","Resource":"{LAMBDA}:f","Next":"S"}},"S":{{"Type":"Succeed"}}}}}}"#
    );
    let arn = e.create_state_machine("h", &def).unwrap();
    let x = e
        .start_execution(&arn, None, json!({"in": 1}))
        .await
        .unwrap();
    let h = e.get_execution_history(&x).unwrap();
    let types: Vec<T> = h.iter().map(|e| e.event_type).collect();
    assert_eq!(
        types,
        vec![
            T::ExecutionStarted,
            T::TaskStateEntered,
            T::TaskScheduled,
            T::TaskStarted,
            T::TaskSucceeded,
            T::TaskStateExited,
            T::SucceedStateEntered,
            T::SucceedStateExited,
            T::ExecutionSucceeded,
        ]
    );
    for (i, ev) in h.iter().enumerate() {
        assert_eq!(ev.id, i as u64 + 1);
        assert_eq!(ev.previous_event_id, i as u64);
    }
    assert_eq!(h[1].details.name.as_deref(), Some("T"));
    assert_eq!(h[1].details.input.as_deref(), Some(&json!({"in": 1})));
    assert_eq!(
        h[2].details.resource.as_deref(),
        Some(&*format!("{LAMBDA}:f"))
    );
    assert_eq!(h[4].details.output.as_deref(), Some(&json!({"ok": true})));
    assert_eq!(h[8].details.output.as_deref(), Some(&json!({"ok": true})));
}

#[tokio::test]
async fn map_history_events() {
    let def = r#"{"StartAt":"M","States":{"M":{"Type":"Map","End":true,"ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}}}}"#;
    let e = engine(HandlerRegistry::new());
    let arn = e.create_state_machine("mh", def).unwrap();
    let x = e.start_execution(&arn, None, json!([1, 2])).await.unwrap();
    let types: Vec<T> = e
        .get_execution_history(&x)
        .unwrap()
        .iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        types,
        vec![
            T::ExecutionStarted,
            T::MapStateEntered,
            T::MapStateStarted,
            // Without MaxConcurrency every iteration starts at once.
            T::MapIterationStarted,
            T::MapIterationStarted,
            T::PassStateEntered,
            T::PassStateExited,
            T::MapIterationSucceeded,
            T::PassStateEntered,
            T::PassStateExited,
            T::MapIterationSucceeded,
            T::MapStateSucceeded,
            T::MapStateExited,
            T::ExecutionSucceeded,
        ]
    );
}

#[tokio::test]
async fn runaway_guard_fails_with_runtime() {
    let e = engine_with(
        HandlerRegistry::new(),
        EngineConfig {
            max_transitions_per_execution: 100,
            ..Default::default()
        },
    );
    let def = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","Next":"A"}}}"#;
    let arn = e.create_state_machine("loop", def).unwrap();
    let x = e.start_execution(&arn, None, json!({})).await.unwrap();
    let d = e.describe_execution(&x).unwrap();
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
    assert!(d.cause.unwrap().contains("100"));
}

#[tokio::test]
async fn execution_timeout_seconds() {
    let (_tokens, reg) = token_sink();
    let e = engine(reg);
    let def = r#"{"StartAt":"Ask","TimeoutSeconds":100,"States":{"Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters":{"FunctionName":"request-review","Payload":{"token.$":"$$.Task.Token"}},"End":true}}}"#;
    let arn = e.create_state_machine("to", def).unwrap();
    let x = e.start_execution(&arn, None, json!({})).await.unwrap();
    e.advance_time(chrono::Duration::seconds(100))
        .await
        .unwrap();
    let d = e.describe_execution(&x).unwrap();
    assert_eq!(d.status, ExecutionStatus::TimedOut);
    let last = e.get_execution_history(&x).unwrap().pop().unwrap();
    assert_eq!(last.event_type, T::ExecutionTimedOut);
}

#[tokio::test]
async fn recreating_a_state_machine_updates_new_executions_only() {
    let e = engine(HandlerRegistry::new());
    let v1 = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":10,"Next":"P"},"P":{"Type":"Pass","Result":"v1","End":true}}}"#;
    let v2 = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Result":"v2","End":true}}}"#;
    let e2 = engine_with(
        HandlerRegistry::new(),
        EngineConfig {
            auto_advance_timers: false,
            ..Default::default()
        },
    );
    let arn = e2.create_state_machine("upd", v1).unwrap();
    let old = e2.start_execution(&arn, None, json!({})).await.unwrap();
    assert_eq!(e2.create_state_machine("upd", v2).unwrap(), arn);
    let new = e2.start_execution(&arn, None, json!({})).await.unwrap();
    assert_eq!(
        e2.describe_execution(&new).unwrap().output,
        Some(json!("v2"))
    );
    e2.advance_time(chrono::Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!(
        e2.describe_execution(&old).unwrap().output,
        Some(json!("v1"))
    );
    // Invalid definitions are rejected with the state and field named.
    let err = e
        .create_state_machine(
            "bad",
            r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Nope"}}}"#,
        )
        .unwrap_err();
    assert_eq!(err.name(), "InvalidDefinition");
    assert!(
        err.to_string()
            .contains(r#"state "A", field "Next": no state named "Nope""#),
        "{err}"
    );
}

#[tokio::test]
async fn shipped_hitl_definition_validates() {
    let names = statemachine::substitution_names(statemachine::DEFINITION);
    let values = names
        .iter()
        .map(|n| (n.clone(), format!("{LAMBDA}:{n}")))
        .collect();
    let def = statemachine::substitute(statemachine::DEFINITION, &values).unwrap();
    let e = engine(HandlerRegistry::new());
    e.create_state_machine("hitl", &def).unwrap();
    let _ = Mutex::new(());
}

/// The shipped HITL definition end to end: a batch fans out into child executions, one is
/// approved through its callback token, the other's review times out and is escalated; the
/// escalation waits for its own callback, which extends the workflow, and the same execution
/// regenerates and is approved.
#[tokio::test]
async fn shipped_hitl_definition_runs_end_to_end() {
    let tokens: Arc<Mutex<Vec<(String, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let t = tokens.clone();
    let reg = HandlerRegistry::new()
        .with_fn("init-workflow", |p: Value, _| async move {
            Ok(match p["op"].as_str() {
                Some("plan_batch") => json!({"request_id": "r1", "items": [
                    {"subject": "a", "execution_name": "item-a"},
                    {"subject": "b", "execution_name": "item-b"}]}),
                _ => json!({"workflow_id": format!("wf-{}", p["item"]["subject"].as_str().unwrap_or("?")),
                            "iteration": 1, "review_timeout_seconds": 3600,
                            "escalation_timeout_seconds": 86400}),
            })
        })
        .with_fn("generate-metadata", |_: Value, _| async move {
            Ok(json!({"artifact_hash": "h1", "no_progress": false}))
        })
        .with_fn("request-review", move |p: Value, ctx| {
            let t = t.clone();
            async move {
                let tok = p["task_token"].as_str().unwrap().to_string();
                assert_eq!(Some(&tok), ctx.task_token.as_ref());
                t.lock().unwrap().push((p["workflow_id"].as_str().unwrap().to_string(), tok));
                Ok(json!({}))
            }
        })
        .with_fn("finalize", |p: Value, _| async move {
            Ok(json!({"status": p["outcome"], "iteration": 1}))
        })
        .with_fn("iteration-check", |_: Value, _| async move {
            Ok(json!({"workflow_id": "wf-b", "action": "escalate", "next_iteration": 1, "reason": "limit",
                      "review_timeout_seconds": 3600, "escalation_timeout_seconds": 86400}))
        })
        .with_fn("escalate", {
            let t = tokens.clone();
            move |p: Value, _| {
                let t = t.clone();
                async move {
                    let tok = p["task_token"].as_str().unwrap_or_default().to_string();
                    let reason = p["reason"].as_str().unwrap_or_default().to_string();
                    t.lock().unwrap().push((format!("escalation:{reason}"), tok));
                    Ok(json!({}))
                }
            }
        })
        .with_fn("publish-outcome", |p: Value, _| async move {
            Ok(json!({"workflow_id": p["workflow_id"], "outcome": "published", "location": null}))
        });
    let names = statemachine::substitution_names(statemachine::DEFINITION);
    let values = names
        .iter()
        .map(|n| {
            let f = match n.as_str() {
                "InitWorkflowFunctionArn" => "init-workflow",
                "GenerateMetadataFunctionArn" => "generate-metadata",
                "RequestReviewFunctionArn" => "request-review",
                "FinalizeFunctionArn" => "finalize",
                "IterationCheckFunctionArn" => "iteration-check",
                "EscalateFunctionArn" => "escalate",
                "PublishOutcomeFunctionArn" => "publish-outcome",
                other => panic!("unexpected substitution {other}"),
            };
            (n.clone(), format!("{LAMBDA}:{f}"))
        })
        .collect();
    let def = statemachine::substitute(statemachine::DEFINITION, &values).unwrap();
    let e = engine(reg);
    let sm = e.create_state_machine("hitl", &def).unwrap();
    let batch = e
        .start_execution(&sm, Some("batch-1"), json!({"items": ["a", "b"]}))
        .await
        .unwrap();
    let d = e.describe_execution(&batch).unwrap();
    assert_eq!(
        d.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        d.error,
        d.cause
    );
    assert_eq!(d.output.as_ref().unwrap()["request_id"], json!("r1"));
    let a = "arn:aws:states:local:000000000000:execution:hitl:item-a";
    let b = "arn:aws:states:local:000000000000:execution:hitl:item-b";
    for x in [a, b] {
        assert_eq!(
            e.describe_execution(x).unwrap().status,
            ExecutionStatus::Running
        );
        assert_eq!(
            e.pending_callbacks(x).unwrap()[0].state_name,
            "WaitForFeedback"
        );
    }
    let tok_a = tokens
        .lock()
        .unwrap()
        .iter()
        .find(|(w, _)| w == "wf-a")
        .unwrap()
        .1
        .clone();
    e.send_task_success(&tok_a, json!({"decision": "approve"}))
        .await
        .unwrap();
    let da = e.describe_execution(a).unwrap();
    assert_eq!(
        da.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        da.error,
        da.cause
    );
    assert_eq!(da.output.unwrap()["result"]["status"], json!("approved"));
    e.advance_time(chrono::Duration::seconds(3600))
        .await
        .unwrap();
    assert_eq!(
        e.describe_execution(b).unwrap().status,
        ExecutionStatus::Running
    );
    assert_eq!(e.pending_callbacks(b).unwrap()[0].state_name, "Escalation");
    let token_of = |who: &str| {
        tokens
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(w, _)| w == who)
            .unwrap()
            .1
            .clone()
    };
    e.send_task_success(
        &token_of("escalation:review_timeout"),
        json!({"decision": "extend", "next_iteration": 2, "review_timeout_seconds": 3600}),
    )
    .await
    .unwrap();
    assert_eq!(
        e.pending_callbacks(b).unwrap()[0].state_name,
        "WaitForFeedback"
    );
    e.send_task_success(&token_of("wf-b"), json!({"decision": "approve"}))
        .await
        .unwrap();
    let db = e.describe_execution(b).unwrap();
    assert_eq!(
        db.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        db.error,
        db.cause
    );
    let out = db.output.unwrap();
    assert_eq!(out["result"]["status"], json!("approved"));
    assert_eq!(out["workflow"]["iteration"], json!(2));
}

/// Issue 14/17: a state output over Step Functions' 256 KiB limit fails with
/// `States.DataLimitExceeded`, as the service does; just under it passes.
#[tokio::test]
async fn outputs_over_256_kib_fail_with_data_limit_exceeded() {
    let big = "x".repeat(262_144);
    let def =
        r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"s.$":"$.s"},"End":true}}}"#;
    let d = run(def, json!({"s": big}), HandlerRegistry::new()).await;
    assert_eq!(d.status, ExecutionStatus::Failed, "{d:?}");
    assert_eq!(d.error.as_deref(), Some("States.DataLimitExceeded"));
    let fits = "x".repeat(262_144 - 20);
    let d = run(def, json!({"s": fits}), HandlerRegistry::new()).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    // "A terminal error that can't be caught by the States.ALL error type" (developer guide,
    // error handling): a task result over the limit fails the execution through States.ALL.
    let caught = format!(
        r#"{{"StartAt":"T","States":{{"T":{{"Type":"Task","Resource":"{LAMBDA}:Big","End":true,
        "Catch":[{{"ErrorEquals":["States.ALL"],"Next":"Small"}}]}},
        "Small":{{"Type":"Pass","Result":"too big","End":true}}}}}}"#
    );
    let reg = HandlerRegistry::new().with_fn("Big", |_input: Value, _| async move {
        Ok(json!({"blob": "y".repeat(300_000)}))
    });
    let d = run(&caught, json!({}), reg).await;
    assert_eq!(d.status, ExecutionStatus::Failed, "{d:?}");
    assert_eq!(d.error.as_deref(), Some("States.DataLimitExceeded"));
}
