//! `StopExecution` on the local engine: a RUNNING execution ends ABORTED with the caller's
//! error and cause, its waiting task token is closed, and stopping it again changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use statemachine::{ExecutionStatus, HistoryEventType as T};

const CALLBACK: &str = r#"{"StartAt":"Ask","States":{"Ask":{"Type":"Task",
  "Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
  "Parameters":{"FunctionName":"request-review","Payload":{"token.$":"$$.Task.Token"}},"End":true}}}"#;

#[tokio::test]
async fn a_running_execution_is_aborted_and_its_token_closed() {
    // GIVEN an execution waiting for a callback
    let (tokens, reg) = token_sink();
    let e = engine(reg);
    let sm = e.create_state_machine("stop", CALLBACK).unwrap();
    let arn = e.start_execution(&sm, Some("s"), json!({})).await.unwrap();
    let token = tokens.lock().unwrap()[0].clone();

    // WHEN it is stopped
    let stopped = e
        .stop_execution(&arn, Some("Operator.Stopped"), Some("not needed"))
        .await
        .unwrap();

    // THEN it is ABORTED with that error, ends with ExecutionAborted, and the token is closed
    let d = e.describe_execution(&arn).unwrap();
    assert_eq!(d.status, ExecutionStatus::Aborted);
    assert_eq!(d.error.as_deref(), Some("Operator.Stopped"));
    assert_eq!(d.cause.as_deref(), Some("not needed"));
    assert_eq!(d.stop_date, Some(stopped));
    let last = e.get_execution_history(&arn).unwrap().pop().unwrap();
    assert_eq!(last.event_type, T::ExecutionAborted);
    assert_eq!(last.details.error.as_deref(), Some("Operator.Stopped"));
    let late = e.send_task_success(&token, json!({})).await.unwrap_err();
    assert_eq!(late.name(), "TaskTimedOut");
    assert!(e.pending_callbacks(&arn).unwrap().is_empty());

    // stopping again leaves it as it was
    let events = e.get_execution_history(&arn).unwrap().len();
    assert_eq!(e.stop_execution(&arn, None, None).await.unwrap(), stopped);
    assert_eq!(e.get_execution_history(&arn).unwrap().len(), events);
}

#[tokio::test]
async fn stopping_an_unknown_execution_is_execution_does_not_exist() {
    let e = engine(statemachine::HandlerRegistry::new());
    let err = e
        .stop_execution("arn:aws:states:local:0:execution:x:y", None, None)
        .await
        .unwrap_err();
    assert_eq!(err.name(), "ExecutionDoesNotExist");
}
