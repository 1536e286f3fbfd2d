//! `RedriveExecution` on the local engine: a failed execution restarts from the state that
//! failed, with that state's input, keeping its name, input and history; the refusals the
//! service makes (not failed, stopped more than 14 days ago). Rules from the Step Functions
//! developer guide's "Redriving executions" page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use statemachine::{HandlerRegistry, HistoryEventType as T, TaskFailure};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function";

/// Fails its first call, succeeds (echoing its input) afterwards.
fn fails_once() -> (Arc<AtomicU32>, HandlerRegistry) {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let reg = HandlerRegistry::new().with_fn("Flaky", move |input: Value, _| {
        let n = c.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                Err(TaskFailure::new("Downstream.Unavailable", "try later"))
            } else {
                Ok(json!({"echo": input}))
            }
        }
    });
    (calls, reg)
}

fn definition() -> String {
    format!(
        r#"{{"StartAt":"Prepare","States":{{
        "Prepare":{{"Type":"Pass","Parameters":{{"order.$":"$.order","prepared":true}},"Next":"Call"}},
        "Call":{{"Type":"Task","Resource":"{LAMBDA}:Flaky","ResultPath":"$.call","Next":"Done"}},
        "Done":{{"Type":"Pass","Parameters":{{"call.$":"$.call","redrives.$":"$$.Execution.RedriveCount","name.$":"$$.Execution.Name"}},"End":true}}}}}}"#
    )
}

#[tokio::test]
async fn a_failed_execution_restarts_from_the_failed_state() {
    let (calls, reg) = fails_once();
    let e = engine(reg);
    let sm = e.create_state_machine("redrive", &definition()).unwrap();
    let arn = e
        .start_execution(&sm, Some("order-1"), json!({"order": "o-1"}))
        .await
        .unwrap();
    let failed = e.describe_execution(&arn).unwrap();
    assert_eq!(failed.status.as_str(), "FAILED");
    assert_eq!(failed.error.as_deref(), Some("Downstream.Unavailable"));

    e.redrive_execution(&arn).await.unwrap();
    let d = e.describe_execution(&arn).unwrap();
    assert_eq!(
        d.status.as_str(),
        "SUCCEEDED",
        "{:?} {:?}",
        d.error,
        d.cause
    );
    assert_eq!(d.name, "order-1");
    assert_eq!(d.input, json!({"order": "o-1"}));
    // The failed state ran again with its original input; the state before it did not.
    assert_eq!(
        d.output.unwrap(),
        json!({"call": {"echo": {"order": "o-1", "prepared": true}}, "redrives": 1, "name": "order-1"})
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let history = e.get_execution_history(&arn).unwrap();
    let entered = |name: &str| {
        history
            .iter()
            .filter(|ev| {
                format!("{:?}", ev.event_type).ends_with("StateEntered")
                    && ev.details.name.as_deref() == Some(name)
            })
            .count()
    };
    assert_eq!(
        (entered("Prepare"), entered("Call"), entered("Done")),
        (1, 2, 1)
    );
    let kinds: Vec<T> = history.iter().map(|ev| ev.event_type).collect();
    let failed_at = kinds.iter().position(|k| *k == T::ExecutionFailed).unwrap();
    let redriven_at = kinds
        .iter()
        .position(|k| *k == T::ExecutionRedriven)
        .unwrap();
    assert!(failed_at < redriven_at, "{kinds:?}");
    assert_eq!(kinds.last(), Some(&T::ExecutionSucceeded));
    // Event ids stay consecutive across the redrive.
    assert!(history.windows(2).all(|w| w[1].id == w[0].id + 1));
}

#[tokio::test]
async fn only_failed_recent_executions_can_be_redriven() {
    let (_, reg) = fails_once();
    let e = engine(reg);
    let sm = e.create_state_machine("redrive", &definition()).unwrap();
    let arn = e
        .start_execution(&sm, Some("order-2"), json!({"order": "o-2"}))
        .await
        .unwrap();
    // Succeeded after one redrive: a second one is refused.
    e.redrive_execution(&arn).await.unwrap();
    let refused = e.redrive_execution(&arn).await.unwrap_err();
    assert_eq!(refused.name(), "ExecutionNotRedrivable");
    assert!(refused.to_string().contains("SUCCEEDED"), "{refused}");

    // A failure more than 14 days old is refused.
    let (_, reg) = fails_once();
    let e = engine(reg);
    let sm = e.create_state_machine("redrive", &definition()).unwrap();
    let arn = e
        .start_execution(&sm, Some("order-3"), json!({"order": "o-3"}))
        .await
        .unwrap();
    e.advance_time(chrono::Duration::days(15)).await.unwrap();
    let refused = e.redrive_execution(&arn).await.unwrap_err();
    assert_eq!(refused.name(), "ExecutionNotRedrivable");
    assert!(refused.to_string().contains("14 days"), "{refused}");
    let unknown = e
        .redrive_execution("arn:aws:states:us-east-1:123456789012:execution:redrive:nope")
        .await
        .unwrap_err();
    assert_eq!(unknown.name(), "ExecutionDoesNotExist");
}

/// Counts calls per item; `Call` fails the first call for the items listed in `flaky`.
fn per_item(
    flaky: &'static [&'static str],
) -> (Arc<std::sync::Mutex<Vec<String>>>, HandlerRegistry) {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (l1, l2) = (log.clone(), log.clone());
    let reg = HandlerRegistry::new()
        .with_fn("Prep", move |input: Value, _| {
            let item = input["item"].as_str().unwrap_or("?").to_string();
            l1.lock().unwrap().push(format!("prep:{item}"));
            async move { Ok(json!({"item": item, "prepped": true})) }
        })
        .with_fn("Call", move |input: Value, _| {
            let item = input["item"].as_str().unwrap_or("?").to_string();
            let mut log = l2.lock().unwrap();
            let first = !log.iter().any(|l| l == &format!("call:{item}"));
            log.push(format!("call:{item}"));
            let fail = first && flaky.contains(&item.as_str());
            async move {
                if fail {
                    Err(TaskFailure::new(
                        "Downstream.Unavailable",
                        format!("{item} later"),
                    ))
                } else {
                    Ok(json!(format!("done:{item}")))
                }
            }
        });
    (log, reg)
}

fn count(log: &std::sync::Mutex<Vec<String>>, entry: &str) -> usize {
    log.lock().unwrap().iter().filter(|l| *l == entry).count()
}

/// Developer guide, "Redriving executions": for Inline Map and Parallel states, a redrive
/// "reschedules and redrives only the iterations and branches that failed or aborted"; each
/// continues from the state where it stopped (hand-derived: an iteration is redriven like an
/// execution, from its unsuccessful step).
#[tokio::test]
async fn a_map_redrives_only_its_failed_iterations_from_the_failed_state() {
    let (log, reg) = per_item(&["b", "d"]);
    let e = engine(reg);
    let def = format!(
        r#"{{"StartAt":"Each","States":{{"Each":{{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":1,
        "ItemSelector":{{"item.$":"$$.Map.Item.Value"}},
        "ItemProcessor":{{"StartAt":"Prep","States":{{
          "Prep":{{"Type":"Task","Resource":"{LAMBDA}:Prep","Next":"Call"}},
          "Call":{{"Type":"Task","Resource":"{LAMBDA}:Call","End":true}}}}}},
        "End":true}}}}}}"#
    );
    let sm = e.create_state_machine("map-redrive", &def).unwrap();
    let arn = e
        .start_execution(&sm, Some("m"), json!({"items": ["a", "b", "c", "d"]}))
        .await
        .unwrap();
    let failed = e.describe_execution(&arn).unwrap();
    assert_eq!(failed.status.as_str(), "FAILED");
    // MaxConcurrency 1: "a" succeeded, "b" failed and "c", "d" never started.
    assert_eq!(
        (
            count(&log, "prep:a"),
            count(&log, "prep:b"),
            count(&log, "prep:c")
        ),
        (1, 1, 0)
    );

    e.redrive_execution(&arn).await.unwrap();
    let failed_again = e.describe_execution(&arn).unwrap();
    // "d" fails on its first call, in the redrive.
    assert_eq!(failed_again.status.as_str(), "FAILED");
    e.redrive_execution(&arn).await.unwrap();
    let d = e.describe_execution(&arn).unwrap();
    assert_eq!(
        d.status.as_str(),
        "SUCCEEDED",
        "{:?} {:?}",
        d.error,
        d.cause
    );
    assert_eq!(
        d.output.unwrap(),
        json!(["done:a", "done:b", "done:c", "done:d"])
    );
    // Each item was prepared once: succeeded iterations were kept, failed ones resumed at Call.
    for item in ["a", "b", "c", "d"] {
        assert_eq!(
            count(&log, &format!("prep:{item}")),
            1,
            "prep:{item} {log:?}"
        );
    }
    assert_eq!(
        ["a", "b", "c", "d"].map(|i| count(&log, &format!("call:{i}"))),
        [1, 2, 1, 2]
    );
    let history = e.get_execution_history(&arn).unwrap();
    let redriven = history
        .iter()
        .filter(|ev| ev.event_type == T::ExecutionRedriven)
        .count();
    assert_eq!(redriven, 2);
    assert_eq!(
        history
            .iter()
            .filter(|ev| ev.event_type == T::MapIterationSucceeded)
            .count(),
        4
    );
}

/// A Parallel state redrives the failed branch from its failed state and resumes a branch that
/// was aborted when its sibling failed; the branch that succeeded is not run again.
#[tokio::test]
async fn a_parallel_redrives_failed_and_aborted_branches_only() {
    let (log, reg) = per_item(&["b"]);
    let e = engine(reg);
    let branch = |item: &str, wait: u32| {
        format!(
            r#"{{"StartAt":"P","States":{{
              "P":{{"Type":"Pass","Result":{{"item":"{item}"}},"Next":"W"}},
              "W":{{"Type":"Wait","Seconds":{wait},"Next":"Prep"}},
              "Prep":{{"Type":"Task","Resource":"{LAMBDA}:Prep","Next":"Call"}},
              "Call":{{"Type":"Task","Resource":"{LAMBDA}:Call","End":true}}}}}}"#
        )
    };
    let def = format!(
        r#"{{"StartAt":"Both","States":{{"Both":{{"Type":"Parallel","Branches":[{},{},{}],"End":true}}}}}}"#,
        branch("a", 1),
        branch("b", 2),
        branch("c", 3600)
    );
    let sm = e.create_state_machine("par-redrive", &def).unwrap();
    let arn = e.start_execution(&sm, Some("p"), json!({})).await.unwrap();
    e.advance_time(chrono::Duration::seconds(10)).await.unwrap();
    let failed = e.describe_execution(&arn).unwrap();
    assert_eq!(failed.status.as_str(), "FAILED");
    assert_eq!(failed.error.as_deref(), Some("Downstream.Unavailable"));
    // "c" was still waiting when "b" failed: it was aborted before Prep.
    assert_eq!(count(&log, "prep:c"), 0);

    e.redrive_execution(&arn).await.unwrap();
    e.advance_time(chrono::Duration::seconds(3600))
        .await
        .unwrap();
    let d = e.describe_execution(&arn).unwrap();
    assert_eq!(
        d.status.as_str(),
        "SUCCEEDED",
        "{:?} {:?}",
        d.error,
        d.cause
    );
    assert_eq!(d.output.unwrap(), json!(["done:a", "done:b", "done:c"]));
    assert_eq!(
        ["a", "b", "c"].map(|i| count(&log, &format!("prep:{i}"))),
        [1, 1, 1]
    );
    assert_eq!(
        ["a", "b", "c"].map(|i| count(&log, &format!("call:{i}"))),
        [1, 2, 1]
    );
}
