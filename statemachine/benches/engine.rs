//! Engine throughput: executions/s and time per state transition for a Pass/Choice/Map-heavy
//! definition (a Map over 1,000 items, ~8 states per item, with Parameters, intrinsics and
//! Choice) on the in-memory store, and the same work written in JSONata (the baseline it is
//! compared with is the JSONPath variant, in the same run; issue 17's target: within 2× per
//! transition). Run with `cargo bench -p hitl-statemachine`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::{json, Value};
use statemachine::{
    Engine, EngineConfig, ExecutionStore, HandlerRegistry, HistoryEventType, MemoryExecutionStore,
    VirtualClock,
};
use std::sync::Arc;

const DEFINITION: &str = r#"{
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Parameters": {"items.$": "$.items", "batch.$": "$$.Execution.Name"}, "Next": "Fan"},
    "Fan": {
      "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 50,
      "ItemSelector": {"id.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value.v", "batch.$": "$.batch"},
      "ItemProcessor": {
        "StartAt": "Init",
        "States": {
          "Init": {"Type": "Pass", "Parameters": {"id.$": "$.id", "v.$": "$.v", "key.$": "States.Format('{}-item-{}', $.batch, $.id)"}, "Next": "Classify"},
          "Classify": {"Type": "Choice", "Choices": [
              {"And": [{"Variable": "$.v", "IsNumeric": true}, {"Variable": "$.v", "NumericGreaterThan": 500}], "Next": "Big"},
              {"Variable": "$.key", "StringMatches": "*-item-1*", "Next": "Tagged"}],
            "Default": "Small"},
          "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "Next": "Hash"},
          "Tagged": {"Type": "Pass", "Result": "tagged", "ResultPath": "$.size", "Next": "Hash"},
          "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "Next": "Hash"},
          "Hash": {"Type": "Pass", "Parameters": {"id.$": "$.id", "size.$": "$.size", "digest.$": "States.Hash($.key, 'SHA-256')", "parts.$": "States.StringSplit($.key, '-')"}, "Next": "Count"},
          "Count": {"Type": "Pass", "Parameters": {"id.$": "$.id", "size.$": "$.size", "digest.$": "$.digest", "n.$": "States.ArrayLength($.parts)"}, "Next": "Stamp"},
          "Stamp": {"Type": "Pass", "Parameters": {"entered.$": "$$.State.EnteredTime", "retry.$": "$$.State.RetryCount"}, "ResultPath": "$.meta", "Next": "Check"},
          "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 3, "Next": "Merge"}], "Default": "Merge"},
          "Merge": {"Type": "Pass", "Parameters": {"out.$": "States.JsonMerge($, States.StringToJson('{\"ok\": true}'), false)"}, "OutputPath": "$.out", "End": true}
        }
      },
      "ResultSelector": {"count.$": "States.ArrayLength($)"},
      "ResultPath": "$.summary",
      "Next": "Done"
    },
    "Done": {"Type": "Succeed"}
  }
}"#;

/// The same machine in JSONata: the same states, the same per-item work (string building,
/// a numeric and a string test, SHA-256, split and count, context fields, a merge).
const JSONATA_DEFINITION: &str = r#"{
  "QueryLanguage": "JSONata",
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Output": {"items": "{% $states.input.items %}", "batch": "{% $states.context.Execution.Name %}"}, "Next": "Fan"},
    "Fan": {
      "Type": "Map", "Items": "{% $states.input.items %}", "MaxConcurrency": 50,
      "ItemSelector": {"id": "{% $states.context.Map.Item.Index %}", "v": "{% $states.context.Map.Item.Value.v %}", "batch": "{% $states.input.batch %}"},
      "ItemProcessor": {
        "StartAt": "Init",
        "States": {
          "Init": {"Type": "Pass", "Output": {"id": "{% $states.input.id %}", "v": "{% $states.input.v %}", "key": "{% $states.input.batch & '-item-' & $string($states.input.id) %}"}, "Next": "Classify"},
          "Classify": {"Type": "Choice", "Choices": [
              {"Condition": "{% $type($states.input.v) = 'number' and $states.input.v > 500 %}", "Next": "Big"},
              {"Condition": "{% $contains($states.input.key, '-item-1') %}", "Next": "Tagged"}],
            "Default": "Small"},
          "Big": {"Type": "Pass", "Output": "{% $merge([$states.input, {'size': 'big'}]) %}", "Next": "Hash"},
          "Tagged": {"Type": "Pass", "Output": "{% $merge([$states.input, {'size': 'tagged'}]) %}", "Next": "Hash"},
          "Small": {"Type": "Pass", "Output": "{% $merge([$states.input, {'size': 'small'}]) %}", "Next": "Hash"},
          "Hash": {"Type": "Pass", "Output": {"id": "{% $states.input.id %}", "size": "{% $states.input.size %}", "digest": "{% $hash($states.input.key, 'SHA-256') %}", "parts": "{% $split($states.input.key, '-') %}"}, "Next": "Count"},
          "Count": {"Type": "Pass", "Output": {"id": "{% $states.input.id %}", "size": "{% $states.input.size %}", "digest": "{% $states.input.digest %}", "n": "{% $count($states.input.parts) %}"}, "Next": "Stamp"},
          "Stamp": {"Type": "Pass", "Output": "{% $merge([$states.input, {'meta': {'entered': $states.context.State.EnteredTime, 'retry': $states.context.State.RetryCount}}]) %}", "Next": "Check"},
          "Check": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n = 3 %}", "Next": "Merge"}], "Default": "Merge"},
          "Merge": {"Type": "Pass", "Output": "{% $merge([$states.input, {'ok': true}]) %}", "End": true}
        }
      },
      "Output": "{% $merge([$states.input, {'summary': {'count': $count($states.result)}}]) %}",
      "Next": "Done"
    },
    "Done": {"Type": "Succeed"}
  }
}"#;

fn input() -> Value {
    json!({"items": (0..1000).map(|i| json!({"v": i})).collect::<Vec<_>>()})
}

fn engine() -> Engine {
    let store: Arc<dyn ExecutionStore> = Arc::new(MemoryExecutionStore::new());
    let clock = Arc::new(VirtualClock::new(store.clone()).unwrap());
    Engine::new(
        store,
        HandlerRegistry::new(),
        clock,
        EngineConfig::default(),
    )
}

/// Runs `definition` once, checks its result and returns (state machine ARN, transitions).
fn prepare(
    rt: &tokio::runtime::Runtime,
    e: &Engine,
    name: &str,
    definition: &str,
) -> (String, u64) {
    let arn = e.create_state_machine(name, definition).unwrap();
    let exec = rt.block_on(e.start_execution(&arn, None, input())).unwrap();
    let d = e.describe_execution(&exec).unwrap();
    assert_eq!(d.output.unwrap()["summary"]["count"], json!(1000), "{name}");
    let transitions = e
        .get_execution_history(&exec)
        .unwrap()
        .iter()
        .filter(|ev| format!("{:?}", ev.event_type).ends_with("StateEntered"))
        .count() as u64;
    assert_eq!(transitions, 1000 * 8 + 3, "{name}");
    eprintln!("{name}: transitions per execution: {transitions}");
    (arn, transitions)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let input = input();
    let _ = HistoryEventType::PassStateEntered;

    // Each measurement gets a fresh engine: the in-memory store keeps every execution, so a
    // measurement run after another would pay for its predecessor's memory.
    let mut g = c.benchmark_group("map_1000_items");
    g.sample_size(10);
    let e = engine();
    let (arn, transitions) = prepare(&rt, &e, "bench", DEFINITION);
    g.throughput(Throughput::Elements(1));
    g.bench_function("executions", |b| {
        b.iter(|| {
            rt.block_on(e.start_execution(&arn, None, input.clone()))
                .unwrap()
        })
    });
    drop(e);
    g.throughput(Throughput::Elements(transitions));
    for (label, name, definition) in [
        ("state_transitions", "bench", DEFINITION),
        (
            "state_transitions_jsonata",
            "bench-jsonata",
            JSONATA_DEFINITION,
        ),
    ] {
        prepare(&rt, &engine(), name, definition);
        // A fresh engine per execution (built, and dropped with everything it stored, outside
        // the measurement): the store does not grow under the measured run, which otherwise
        // made the JSONPath figure move by half between runs.
        g.bench_function(label, |b| {
            b.iter_batched(
                || {
                    let e = engine();
                    let arn = e.create_state_machine(name, definition).unwrap();
                    (e, arn)
                },
                |(e, arn)| {
                    rt.block_on(e.start_execution(&arn, None, input.clone()))
                        .unwrap();
                    e
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
