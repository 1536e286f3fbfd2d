//! Conformance suite for `QueryLanguage: "JSONata"` and workflow variables (`Assign`), in the
//! style of `conformance.rs`. Each case says where its expected value comes from: "guide" —
//! the AWS Step Functions developer guide's JSONata or variables page gives the example or the
//! value; "rule" — hand-derived from a rule the guide states (quoted in the comment).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use statemachine::{Definition, HandlerRegistry};

const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function";

async fn failure(def: &str, input: Value, registry: HandlerRegistry) -> (String, String) {
    let d = run(def, input, registry).await;
    assert_eq!(d.status.as_str(), "FAILED", "output {:?}", d.output);
    (d.error.unwrap_or_default(), d.cause.unwrap_or_default())
}

fn parse_error(def: Value) -> String {
    Definition::from_value(&def)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| panic!("{def} should not parse"))
}

// ------------------------------------------------------------------------------------------
// JSONata in Pass, Task, Choice, Wait, Succeed and Fail
// ------------------------------------------------------------------------------------------

/// Guide: a JSONata Pass state builds its `Output` with `{% %}` expressions over
/// `$states.input`; literal members stay as they are.
#[tokio::test]
async fn pass_output_with_expressions() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass",
        "Output":{"total":"{% $sum($states.input.items.price) %}","count":"{% $count($states.input.items) %}",
                  "label":"order","first":"{% $states.input.items[0].name %}"},"End":true}}}"#;
    let input = json!({"items": [{"name": "a", "price": 2.5}, {"name": "b", "price": 4}]});
    assert_eq!(
        output(def, input).await,
        json!({"total": 6.5, "count": 2, "label": "order", "first": "a"})
    );
}

/// Rule: "Output … If you don't provide Output, the state's output is its input."
#[tokio::test]
async fn without_output_the_input_passes_through() {
    let def =
        r#"{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
    assert_eq!(output(def, json!({"k": [1]})).await, json!({"k": [1]}));
}

/// Guide: a Task's `Arguments` are sent to the resource, and `Output` can use
/// `$states.result` (the task's result) next to `$states.input`.
#[tokio::test]
async fn task_arguments_and_result() {
    let reg = HandlerRegistry::new().with_fn("Double", |input: Value, _| async move {
        Ok(json!({"doubled": input["n"].as_i64().unwrap_or(0) * 2, "seen": input}))
    });
    let def = format!(
        r#"{{"QueryLanguage":"JSONata","StartAt":"T","States":{{"T":{{"Type":"Task","Resource":"{LAMBDA}:Double",
        "Arguments":{{"n":"{{% $states.input.value + 1 %}}","fixed":true}},
        "Output":{{"from":"{{% $states.input.value %}}","result":"{{% $states.result.doubled %}}","args":"{{% $states.result.seen %}}"}},
        "End":true}}}}}}"#
    );
    let d = run(&def, json!({"value": 20}), reg).await;
    assert_eq!(
        d.output.unwrap(),
        json!({"from": 20, "result": 42, "args": {"n": 21, "fixed": true}})
    );
}

/// Guide: `$states.context` is the context object (execution, state, state machine).
#[tokio::test]
async fn the_context_object() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","Output":{
        "name":"{% $states.context.Execution.Name %}","state":"{% $states.context.State.Name %}",
        "input":"{% $states.context.Execution.Input.id %}","retries":"{% $states.context.State.RetryCount %}"},"End":true}}}"#;
    assert_eq!(
        output(def, json!({"id": 5})).await,
        json!({"name": "run", "state": "P", "input": 5, "retries": 0})
    );
    let without_input = r#"{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","Output":{
        "name":"{% $states.context.Execution.Name %}","machine":"{% $states.context.StateMachine.Name %}"},"End":true}}}"#;
    assert_eq!(
        output(without_input, json!({"id": 5})).await,
        json!({"name": "run", "machine": "test"})
    );
}

/// Guide: JSONata Choice rules have `Condition` and `Next`; the first true condition wins,
/// otherwise `Default`.
#[tokio::test]
async fn choice_conditions_and_default() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"C","States":{
        "C":{"Type":"Choice","Choices":[
            {"Condition":"{% $states.input.n > 10 %}","Next":"Big"},
            {"Condition":"{% $states.input.n > 5 %}","Next":"Medium","Output":{"size":"medium"}}],
          "Default":"Small"},
        "Big":{"Type":"Pass","Output":"big","End":true},
        "Medium":{"Type":"Pass","End":true},
        "Small":{"Type":"Pass","Output":"{% 'small ' & $string($states.input.n) %}","End":true}}}"#;
    assert_eq!(output(def, json!({"n": 11})).await, json!("big"));
    assert_eq!(
        output(def, json!({"n": 6})).await,
        json!({"size": "medium"})
    );
    assert_eq!(output(def, json!({"n": 1})).await, json!("small 1"));
}

/// Rule: "The Condition … must evaluate to a boolean": anything else is a query error.
#[tokio::test]
async fn a_condition_that_is_not_boolean_fails() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"C","States":{
        "C":{"Type":"Choice","Choices":[{"Condition":"{% $states.input.n %}","Next":"D"}],"Default":"D"},
        "D":{"Type":"Succeed"}}}"#;
    let (error, cause) = failure(def, json!({"n": 3}), HandlerRegistry::new()).await;
    assert_eq!(error, "States.QueryEvaluationError");
    assert!(cause.contains("must evaluate to a boolean"), "{cause}");
}

/// Rule: Wait `Seconds` may be an expression; `$now()` follows the engine's (virtual) clock,
/// which the Wait advanced by those seconds (the test clock starts at 2024-01-01T00:00:00Z).
#[tokio::test]
async fn wait_seconds_expression_and_virtual_now() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"W","States":{
        "W":{"Type":"Wait","Seconds":"{% $states.input.delay * 60 %}","Next":"P"},
        "P":{"Type":"Pass","Output":{"now":"{% $now() %}","millis":"{% $millis() %}"},"End":true}}}"#;
    assert_eq!(
        output(def, json!({"delay": 2})).await,
        json!({"now": "2024-01-01T00:02:00.000Z", "millis": 1_704_067_320_000_i64})
    );
}

/// Guide: Fail `Error` and `Cause` accept expressions in JSONata states.
#[tokio::test]
async fn fail_error_and_cause_expressions() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"F","States":{"F":{"Type":"Fail",
        "Error":"{% 'Order.' & $states.input.code %}","Cause":"{% 'order ' & $states.input.id & ' rejected' %}"}}}"#;
    let (error, cause) = failure(
        def,
        json!({"code": "Rejected", "id": "o-1"}),
        HandlerRegistry::new(),
    )
    .await;
    assert_eq!(
        (error.as_str(), cause.as_str()),
        ("Order.Rejected", "order o-1 rejected")
    );
}

/// Guide: an expression that returns nothing fails the state with
/// `States.QueryEvaluationError` ("… returned nothing (undefined)").
#[tokio::test]
async fn undefined_results_are_query_errors() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass",
        "Output":{"x":"{% $states.input.missing %}"},"End":true}}}"#;
    let (error, cause) = failure(def, json!({}), HandlerRegistry::new()).await;
    assert_eq!(error, "States.QueryEvaluationError");
    assert!(cause.contains("returned nothing (undefined)"), "{cause}");
}

/// Guide: in a Catch of a JSONata state, `$states.errorOutput` holds `Error` and `Cause`;
/// the catcher's `Output` (and `Assign`) use it.
#[tokio::test]
async fn catch_output_and_assign_see_the_error() {
    let reg = HandlerRegistry::new().with_fn("Boom", |_: Value, _| async move {
        Err(statemachine::TaskFailure::new("Custom.Boom", "it broke"))
    });
    let def = format!(
        r#"{{"QueryLanguage":"JSONata","StartAt":"T","States":{{
        "T":{{"Type":"Task","Resource":"{LAMBDA}:Boom","Catch":[{{"ErrorEquals":["States.ALL"],"Next":"H",
            "Output":{{"failed":"{{% $states.errorOutput.Error %}}","input":"{{% $states.input %}}"}},
            "Assign":{{"why":"{{% $states.errorOutput.Cause %}}"}}}}],"End":true}},
        "H":{{"Type":"Pass","Output":{{"caught":"{{% $states.input %}}","why":"{{% $why %}}"}},"End":true}}}}}}"#
    );
    let d = run(&def, json!({"k": 1}), reg).await;
    assert_eq!(
        d.output.unwrap(),
        json!({"caught": {"failed": "Custom.Boom", "input": {"k": 1}}, "why": "it broke"})
    );
}

/// Guide: Step Functions adds `$partition`, `$range`, `$hash`, `$random`, `$uuid` and `$parse`.
#[tokio::test]
async fn step_functions_functions() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","Output":{
        "partition":"{% $partition([1,2,3,4,5], 2) %}",
        "range":"{% $range(0, 10, 4) %}",
        "md5":"{% $hash('abc', 'MD5') %}",
        "parse":"{% $parse('{\"a\":[1,2]}') %}",
        "same":"{% $random(42) = $random(42) %}",
        "uuid":"{% $length($uuid()) %}"},"End":true}}}"#;
    assert_eq!(
        output(def, json!({})).await,
        json!({"partition": [[1, 2], [3, 4], [5]], "range": [0, 4, 8],
               "md5": "900150983cd24fb0d6963f7d28e17f72", "parse": {"a": [1, 2]},
               "same": true, "uuid": 36})
    );
}

// ------------------------------------------------------------------------------------------
// Variables
// ------------------------------------------------------------------------------------------

/// Guide: a variable assigned in one state can be used in any later state, without passing it
/// through the outputs in between.
#[tokio::test]
async fn a_variable_outlives_the_states_between() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"A","States":{
        "A":{"Type":"Pass","Assign":{"orderId":"{% $states.input.id %}","count":3},"Output":{},"Next":"B"},
        "B":{"Type":"Pass","Output":{"unrelated":true},"Next":"C"},
        "C":{"Type":"Pass","Output":{"order":"{% $orderId %}","count":"{% $count %}","input":"{% $states.input %}"},"End":true}}}"#;
    assert_eq!(
        output(def, json!({"id": "o-7"})).await,
        json!({"order": "o-7", "count": 3, "input": {"unrelated": true}})
    );
}

/// Rule (guide, variables page): "Assign and Output are evaluated … with the variable values
/// as they were on entering the state": a value assigned in a state is visible from the next
/// state on, and one Assign's members all see the old values.
#[tokio::test]
async fn assign_and_output_see_the_values_from_the_start_of_the_state() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"A","States":{
        "A":{"Type":"Pass","Assign":{"x":1},"Next":"B"},
        "B":{"Type":"Pass","Assign":{"x":"{% $x + 1 %}","old":"{% $x %}"},"Output":{"seen":"{% $x %}"},"Next":"C"},
        "C":{"Type":"Pass","Output":{"x":"{% $x %}","old":"{% $old %}","prev":"{% $states.input %}"},"End":true}}}"#;
    assert_eq!(
        output(def, json!({})).await,
        json!({"x": 2, "old": 1, "prev": {"seen": 1}})
    );
}

/// Rule: a Task's Assign can use `$states.result`.
#[tokio::test]
async fn task_assign_from_the_result() {
    let reg =
        HandlerRegistry::new().with_fn(
            "Price",
            |_: Value, _| async move { Ok(json!({"price": 12})) },
        );
    let def = format!(
        r#"{{"QueryLanguage":"JSONata","StartAt":"T","States":{{
        "T":{{"Type":"Task","Resource":"{LAMBDA}:Price","Assign":{{"price":"{{% $states.result.price %}}"}},"Output":{{}},"Next":"P"}},
        "P":{{"Type":"Pass","Output":"{{% $price * 2 %}}","End":true}}}}}}"#
    );
    assert_eq!(run(&def, json!({}), reg).await.output.unwrap(), json!(24));
}

/// Guide: a JSONata choice rule may carry its own Assign.
#[tokio::test]
async fn a_matching_choice_rule_assigns() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"C","States":{
        "C":{"Type":"Choice","Choices":[{"Condition":"{% $states.input.vip %}","Next":"D","Assign":{"tier":"gold"}}],
             "Default":"D","Assign":{"tier":"standard"}},
        "D":{"Type":"Pass","Output":"{% $tier %}","End":true}}}"#;
    assert_eq!(output(def, json!({"vip": true})).await, json!("gold"));
    assert_eq!(output(def, json!({"vip": false})).await, json!("standard"));
}

/// Rule: referencing a variable nobody assigned returns nothing → query error.
#[tokio::test]
async fn an_unassigned_variable_is_an_error() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","Output":"{% $never %}","End":true}}}"#;
    let (error, _) = failure(def, json!({}), HandlerRegistry::new()).await;
    assert_eq!(error, "States.QueryEvaluationError");
}

/// Guide: JSONPath states assign too (`"name.$"` paths, intrinsics), and read variables as
/// `$name` in paths and intrinsic arguments.
#[tokio::test]
async fn jsonpath_states_assign_and_read_variables() {
    let def = r#"{"StartAt":"A","States":{
        "A":{"Type":"Pass","Assign":{"user.$":"$.user","greeting.$":"States.Format('Hi {}', $.user.name)","n":5},"Next":"B"},
        "B":{"Type":"Pass","Parameters":{"name.$":"$user.name","greeting.$":"$greeting","n.$":"$n",
             "again.$":"States.Format('{} again', $greeting)"},"End":true}}}"#;
    assert_eq!(
        output(def, json!({"user": {"name": "Ana"}})).await,
        json!({"name": "Ana", "greeting": "Hi Ana", "n": 5, "again": "Hi Ana again"})
    );
}

/// Rule: in a JSONPath Task, Assign's `$` is the result after ResultSelector; in a catcher it
/// is the error output.
#[tokio::test]
async fn jsonpath_task_and_catcher_assign() {
    let reg = HandlerRegistry::new()
        .with_fn("Price", |_: Value, _| async move {
            Ok(json!({"body": {"price": 7}}))
        })
        .with_fn("Boom", |_: Value, _| async move {
            Err(statemachine::TaskFailure::new("Custom.Boom", "broke"))
        });
    let def = format!(
        r#"{{"StartAt":"T","States":{{
        "T":{{"Type":"Task","Resource":"{LAMBDA}:Price","ResultSelector":{{"p.$":"$.body.price"}},
              "Assign":{{"price.$":"$.p"}},"ResultPath":null,"Next":"U"}},
        "U":{{"Type":"Task","Resource":"{LAMBDA}:Boom","Catch":[{{"ErrorEquals":["States.ALL"],"Next":"P",
              "Assign":{{"err.$":"$.Error"}},"ResultPath":"$.error"}}],"End":true}},
        "P":{{"Type":"Pass","Parameters":{{"price.$":"$price","err.$":"$err","input.$":"$"}},"End":true}}}}}}"#
    );
    let d = run(&def, json!({"a": 1}), reg).await;
    assert_eq!(
        d.output.unwrap(),
        json!({"price": 7, "err": "Custom.Boom",
               "input": {"a": 1, "error": {"Error": "Custom.Boom", "Cause": "broke"}}})
    );
}

/// Rule (guide, variables page, scope): Map iterations read the outer variables; what they
/// assign stays inside the iteration (the outer `$inner` is never set).
#[tokio::test]
async fn map_iterations_read_outer_variables_and_keep_their_own() {
    let def = r#"{"StartAt":"A","States":{
        "A":{"Type":"Pass","Assign":{"factor":10},"Next":"M"},
        "M":{"Type":"Map","ItemsPath":"$.items","ItemProcessor":{"StartAt":"I","States":{
            "I":{"Type":"Pass","Parameters":{"v.$":"$.v","f.$":"$factor"},"Assign":{"inner.$":"$.v"},"End":true}}},
          "Next":"After"},
        "After":{"Type":"Pass","Parameters":{"result.$":"$","inner.$":"$inner"},"End":true}}}"#;
    let d = run(
        def,
        json!({"items": [{"v": 1}, {"v": 2}]}),
        HandlerRegistry::new(),
    )
    .await;
    assert_eq!(d.status.as_str(), "FAILED", "{:?}", d.output);
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
    assert!(d.cause.unwrap_or_default().contains("$inner"));
    let ok = def.replace(r#","inner.$":"$inner""#, "");
    assert_eq!(
        output(&ok, json!({"items": [{"v": 1}, {"v": 2}]})).await,
        json!({"result": [{"v": 1, "f": 10}, {"v": 2, "f": 10}]})
    );
}

/// Rule: a Parallel state's Assign sees its result (the branches' outputs, after
/// ResultSelector), like a Task's.
#[tokio::test]
async fn parallel_assigns_from_its_result() {
    let def = r#"{"StartAt":"Par","States":{
        "Par":{"Type":"Parallel","Branches":[
            {"StartAt":"A","States":{"A":{"Type":"Pass","Result":1,"End":true}}},
            {"StartAt":"B","States":{"B":{"Type":"Pass","Result":2,"End":true}}}],
          "ResultSelector":{"sum.$":"States.MathAdd($[0], $[1])"},"Assign":{"sum.$":"$.sum"},"ResultPath":null,"Next":"P"},
        "P":{"Type":"Pass","Parameters":{"sum.$":"$sum","input.$":"$"},"End":true}}}"#;
    assert_eq!(
        output(def, json!({"k": true})).await,
        json!({"sum": 3, "input": {"k": true}})
    );
}

/// Rule: one Assign may set at most 256 KiB → `States.DataLimitExceeded`.
#[tokio::test]
async fn assign_size_limit() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass",
        "Assign":{"big":"{% $join($map($range(1, 300, 1), function($i){ $pad('', 1000, 'x') }), '') %}"},"End":true}}}"#;
    let (error, cause) = failure(def, json!({}), HandlerRegistry::new()).await;
    assert_eq!(error, "States.DataLimitExceeded", "{cause}");
}

// ------------------------------------------------------------------------------------------
// What the parser refuses (state and field named)
// ------------------------------------------------------------------------------------------

#[test]
fn jsonpath_fields_in_a_jsonata_state_are_refused() {
    let e = parse_error(json!({"QueryLanguage": "JSONata", "StartAt": "P",
        "States": {"P": {"Type": "Pass", "InputPath": "$.a", "End": true}}}));
    assert!(e.starts_with("state \"P\", field \"InputPath\":"), "{e}");
    assert!(e.contains("JSONPath field"), "{e}");
}

#[test]
fn jsonata_fields_in_a_jsonpath_state_are_refused() {
    let e = parse_error(json!({"StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": {"a": 1}, "End": true}}}));
    assert!(e.starts_with("state \"P\", field \"Output\":"), "{e}");
    assert!(e.contains("QueryLanguage"), "{e}");
}

#[test]
fn a_state_may_switch_to_jsonata_but_not_back() {
    let ok = Definition::from_value(&json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% 1 %}", "End": true}}}));
    assert!(ok.is_ok(), "{ok:?}");
    let e = parse_error(
        json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}}),
    );
    assert!(e.contains("field \"QueryLanguage\""), "{e}");
}

#[test]
fn syntax_errors_and_eval_are_refused_with_the_field() {
    let e = parse_error(json!({"QueryLanguage": "JSONata", "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": {"x": "{% 1 + %}"}, "End": true}}}));
    assert!(
        e.starts_with("state \"P\", field \"Output\": invalid JSONata expression"),
        "{e}"
    );
    let e = parse_error(json!({"QueryLanguage": "JSONata", "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": "{% $eval('1') %}", "End": true}}}));
    assert!(e.contains("$eval is not supported"), "{e}");
    let e = parse_error(json!({"QueryLanguage": "JSONata", "StartAt": "C",
        "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "BooleanEquals": true, "Next": "D"}], "Default": "D"},
                   "D": {"Type": "Succeed"}}}));
    assert!(
        e.contains("\"Variable\" is not a field of a JSONata choice rule"),
        "{e}"
    );
    let e = parse_error(json!({"StartAt": "P",
        "States": {"P": {"Type": "Pass", "Assign": {"states": 1}, "End": true}}}));
    assert!(e.contains("invalid variable name \"states\""), "{e}");
}

/// Guide: a JSONata Map takes `Items` (an expression or array; default the state input),
/// builds each iteration's input with `ItemSelector` from `$states.context.Map.Item`, and its
/// `Output` sees the iterations' results as `$states.result`; the processor's states inherit
/// JSONata and read the outer variables.
#[tokio::test]
async fn jsonata_map_items_selector_and_output() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"A","States":{
        "A":{"Type":"Pass","Assign":{"rate":2},"Next":"M"},
        "M":{"Type":"Map","Items":"{% $states.input.orders %}","MaxConcurrency":"{% 1 + 1 %}",
             "ItemSelector":{"id":"{% $states.context.Map.Item.Value.id %}","n":"{% $states.context.Map.Item.Index %}"},
             "ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass",
                 "Output":{"id":"{% $states.input.id %}","pos":"{% $states.input.n * $rate %}"},"End":true}}},
             "Output":{"ids":"{% $states.result.id %}","count":"{% $count($states.result) %}"},
             "Assign":{"last":"{% $states.result[-1].pos %}"},"Next":"P"},
        "P":{"Type":"Pass","Output":{"map":"{% $states.input %}","last":"{% $last %}"},"End":true}}}"#;
    assert_eq!(
        output(
            def,
            json!({"orders": [{"id": "a"}, {"id": "b"}, {"id": "c"}]})
        )
        .await,
        json!({"map": {"ids": ["a", "b", "c"], "count": 3}, "last": 4})
    );
}

/// Rule: a JSONata Parallel gives every branch its `Arguments` (default the state input) and
/// its `Output` sees the branches' outputs as `$states.result`.
#[tokio::test]
async fn jsonata_parallel_arguments_and_output() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"Par","States":{
        "Par":{"Type":"Parallel","Arguments":{"x":"{% $states.input.x * 10 %}"},
          "Branches":[
            {"StartAt":"A","States":{"A":{"Type":"Pass","Output":"{% $states.input.x + 1 %}","End":true}}},
            {"StartAt":"B","States":{"B":{"Type":"Pass","Output":"{% $states.input.x + 2 %}","End":true}}}],
          "Output":{"sum":"{% $sum($states.result) %}"},"End":true}}}"#;
    assert_eq!(output(def, json!({"x": 1})).await, json!({"sum": 23}));
}

/// Guide (Map state, JSONata): `ToleratedFailureCount` and `ToleratedFailurePercentage` take a
/// number or an expression evaluated against the state input; "rule" for the threshold: the
/// state fails with `States.ExceedToleratedFailureThreshold` once failures exceed it.
#[tokio::test]
async fn jsonata_map_tolerated_failures_from_expressions() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"M","States":{"M":{"Type":"Map",
        "Items":"{% $states.input.xs %}",
        "ToleratedFailureCount":"{% $states.input.allowed %}",
        "ToleratedFailurePercentage":"{% $states.input.pct %}",
        "ItemProcessor":{"StartAt":"C","States":{
          "C":{"Type":"Choice","Choices":[{"Condition":"{% $states.input > 1 %}","Next":"F"}],"Default":"OK"},
          "F":{"Type":"Fail","Error":"Big"},"OK":{"Type":"Succeed"}}},"End":true}}}"#;
    // Two of three fail: tolerated by a count of 2 (and 100 %), not by a count of 1.
    assert_eq!(
        output(def, json!({"xs": [1, 2, 3], "allowed": 2, "pct": 100})).await,
        json!([1, {"Error": "Big", "Cause": ""}, {"Error": "Big", "Cause": ""}])
    );
    let (error, _) = failure(
        def,
        json!({"xs": [1, 2, 3], "allowed": 1, "pct": 100}),
        HandlerRegistry::new(),
    )
    .await;
    assert_eq!(error, "States.ExceedToleratedFailureThreshold");
    // 2 of 3 is 66.7 %: over a 50 % tolerance even with a generous count.
    let (error, _) = failure(
        def,
        json!({"xs": [1, 2, 3], "allowed": 5, "pct": 50}),
        HandlerRegistry::new(),
    )
    .await;
    assert_eq!(error, "States.ExceedToleratedFailureThreshold");
    let (error, cause) = failure(
        def,
        json!({"xs": [1], "allowed": -1, "pct": 100}),
        HandlerRegistry::new(),
    )
    .await;
    assert_eq!(error, "States.QueryEvaluationError");
    assert!(
        cause.contains("ToleratedFailureCount must be a non-negative integer, got -1"),
        "{cause}"
    );
    let (error, cause) = failure(
        def,
        json!({"xs": [1], "allowed": 0, "pct": 101}),
        HandlerRegistry::new(),
    )
    .await;
    assert_eq!(error, "States.QueryEvaluationError");
    assert!(
        cause.contains("ToleratedFailurePercentage must be a number between 0 and 100"),
        "{cause}"
    );
}

/// Rule (ASL, Map): `ToleratedFailureCountPath`/`ToleratedFailurePercentagePath` select the
/// threshold from the state's input; they and the literal field are mutually exclusive.
#[tokio::test]
async fn jsonpath_map_tolerated_failures_from_paths() {
    let def = r#"{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs",
        "ToleratedFailureCountPath":"$.allowed",
        "ItemProcessor":{"StartAt":"C","States":{
          "C":{"Type":"Choice","Choices":[{"Variable":"$","NumericGreaterThan":1,"Next":"F"}],"Default":"OK"},
          "F":{"Type":"Fail","Error":"Big"},"OK":{"Type":"Succeed"}}},"End":true}}}"#;
    let d = run(
        def,
        json!({"xs": [1, 2, 3], "allowed": 2}),
        HandlerRegistry::new(),
    )
    .await;
    assert_eq!(d.status.as_str(), "SUCCEEDED", "{:?}", d.cause);
    let d = run(
        def,
        json!({"xs": [1, 2, 3], "allowed": 1}),
        HandlerRegistry::new(),
    )
    .await;
    assert_eq!(
        d.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    let pct = def.replace(
        "ToleratedFailureCountPath",
        "ToleratedFailurePercentagePath",
    );
    let d = run(
        &pct,
        json!({"xs": [1, 2, 3], "allowed": 70}),
        HandlerRegistry::new(),
    )
    .await;
    assert_eq!(d.status.as_str(), "SUCCEEDED", "{:?}", d.cause);
    let d = run(
        &pct,
        json!({"xs": [1, 2, 3], "allowed": 60}),
        HandlerRegistry::new(),
    )
    .await;
    assert_eq!(
        d.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    let both = def.replace(
        r#""ToleratedFailureCountPath":"$.allowed","#,
        r#""ToleratedFailureCountPath":"$.allowed","ToleratedFailureCount":1,"#,
    );
    let report = statemachine::validate::validate(
        &Definition::from_value(&serde_json::from_str(&both).unwrap()).unwrap(),
    );
    assert!(
        report.iter().any(|e| e.field == "ToleratedFailureCountPath"
            && e.message
                .contains("use either \"ToleratedFailureCount\" or \"ToleratedFailureCountPath\"")),
        "{report:?}"
    );
}

/// Rule: `Items` must be an array.
#[tokio::test]
async fn jsonata_map_items_must_be_an_array() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"M","States":{"M":{"Type":"Map","Items":"{% 'x' %}",
        "ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Succeed"}}},"End":true}}}"#;
    let (error, cause) = failure(def, json!({}), HandlerRegistry::new()).await;
    assert_eq!(error, "States.QueryEvaluationError");
    assert!(cause.contains("Items must be an array"), "{cause}");
}

#[test]
fn states_result_and_error_output_only_where_aws_provides_them() {
    let e = parse_error(json!({"QueryLanguage": "JSONata", "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": "{% $states.result %}", "End": true}}}));
    assert!(
        e.starts_with("state \"P\", field \"Output\": $states.result is only available"),
        "{e}"
    );
    let e = parse_error(json!({"QueryLanguage": "JSONata", "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
                         "Arguments": "{% $states.result %}", "End": true}}}));
    assert!(e.contains("field \"Arguments\""), "{e}");
    let e = parse_error(json!({"QueryLanguage": "JSONata", "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
                         "Output": "{% $states.errorOutput %}", "End": true}}}));
    assert!(e.contains("$states.errorOutput is only available"), "{e}");
}

/// Rule: a Task's `TimeoutSeconds` may be an expression; the task then times out with
/// `States.Timeout` after that many seconds (on the virtual clock).
#[tokio::test]
async fn task_timeout_seconds_expression() {
    let def = r#"{"QueryLanguage":"JSONata","StartAt":"Ask","States":{"Ask":{"Type":"Task",
        "Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
        "TimeoutSeconds":"{% $states.input.minutes * 60 %}",
        "Arguments":{"FunctionName":"request-review","Payload":{"token":"{% $states.context.Task.Token %}"}},"End":true}}}"#;
    let (tokens, reg) = token_sink();
    let e = engine(reg);
    let sm = e.create_state_machine("t", def).unwrap();
    let arn = e
        .start_execution(&sm, Some("t1"), json!({"minutes": 2}))
        .await
        .unwrap();
    assert_eq!(
        e.describe_execution(&arn).unwrap().status.as_str(),
        "RUNNING"
    );
    // The handler got the token through `$states.context.Task.Token` in Arguments.
    assert_eq!(tokens.lock().unwrap().len(), 1);
    e.advance_time(chrono::Duration::seconds(119))
        .await
        .unwrap();
    assert_eq!(
        e.describe_execution(&arn).unwrap().status.as_str(),
        "RUNNING"
    );
    e.advance_time(chrono::Duration::seconds(2)).await.unwrap();
    let d = e.describe_execution(&arn).unwrap();
    assert_eq!(
        (d.status.as_str(), d.error.as_deref()),
        ("FAILED", Some("States.Timeout"))
    );
}
