//! The Step Functions endpoint (`statemachine::service`) driven over HTTP by the real AWS SDK
//! client (`aws-sdk-sfn`), as a user's code or tests would drive it: create, start, describe,
//! history with paging, callbacks answered from another client, the error shapes the SDK parses
//! into its typed variants, list filtering and paging, and the `HitlAdvanceTime` extension.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_sfn::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_sfn::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_sfn::operation::create_state_machine::CreateStateMachineError;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use aws_sdk_sfn::types::{
    ExecutionStatus, HistoryEventType, InspectionLevel, StateMachineType, SyncExecutionStatus,
    TestExecutionStatus,
};
use aws_sdk_sfn::Client;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use serde_json::{json, Value};
use statemachine::service;
use statemachine::{Engine, HandlerRegistry, MemoryExecutionStore, TaskFailure};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROLE: &str = "arn:aws:iam::123456789012:role/test";

/// Pass → Choice → (Wait 1 s in real time) → Succeed.
const PASS_WAIT_CHOICE: &str = r#"{"StartAt":"Prepare","States":{
  "Prepare":{"Type":"Pass","Parameters":{"n.$":"$.n","wait.$":"$.wait"},"Next":"Route"},
  "Route":{"Type":"Choice","Choices":[{"Variable":"$.wait","BooleanEquals":true,"Next":"Pause"}],"Default":"Done"},
  "Pause":{"Type":"Wait","Seconds":1,"Next":"Done"},
  "Done":{"Type":"Succeed"}}}"#;

/// Waits an hour of (virtual) time when `$.wait` is true, else succeeds at once.
const HOUR_WAIT: &str = r#"{"StartAt":"Route","States":{
  "Route":{"Type":"Choice","Choices":[{"Variable":"$.wait","BooleanEquals":true,"Next":"Pause"}],"Default":"Done"},
  "Pause":{"Type":"Wait","Seconds":3600,"Next":"Done"},
  "Done":{"Type":"Pass","Result":"waited","ResultPath":"$.result","End":true}}}"#;

struct Endpoint {
    url: String,
    _engine: Arc<Engine>,
}

async fn endpoint(registry: HandlerRegistry) -> Endpoint {
    let store = Arc::new(MemoryExecutionStore::new());
    let engine = Arc::new(service::endpoint_engine(store, registry).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(service::serve(listener, engine.clone()));
    Endpoint {
        url,
        _engine: engine,
    }
}

fn client(url: &str) -> Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        // the SDK's default client is off workspace-wide (see hitl_aws::https_client)
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https(),
        )
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(url)
        .interceptor(NoHostPrefix)
        .build();
    Client::from_conf(config)
}

/// The SDK sends `StartSyncExecution` to `sync-<host>` (the service's host prefix), which does
/// not resolve for `127.0.0.1`: this takes the prefix off again, as a user pointing the SDK at
/// a local endpoint does (boto3: `Config(inject_host_prefix=False)`).
#[derive(Debug)]
struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_sfn::error::BoxError> {
        let uri = context.request().uri().replace("://sync-", "://");
        context.request_mut().set_uri(uri)?;
        Ok(())
    }
}

async fn create(c: &Client, name: &str, definition: &str) -> String {
    c.create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string()
}

async fn start(c: &Client, sm: &str, name: &str, input: Value) -> String {
    c.start_execution()
        .state_machine_arn(sm)
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_string()
}

/// Polls DescribeExecution until the execution leaves RUNNING (at most 10 s).
async fn wait_until_closed(
    c: &Client,
    arn: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    for _ in 0..200 {
        let d = c
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .unwrap();
        if *d.status() != ExecutionStatus::Running {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {arn} still RUNNING after 10 s");
}

/// One raw request, for the extension and malformed requests the SDK cannot send.
async fn raw(url: &str, target: &str, body: &str) -> (u16, String, String) {
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: {target}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    let status = resp[9..12].parse().unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_choice_wait_execution_succeeds_in_real_time() {
    // GIVEN a state machine created through the SDK
    let ep = endpoint(HandlerRegistry::new()).await;
    let c = client(&ep.url);
    let sm = create(&c, "pass-wait-choice", PASS_WAIT_CHOICE).await;
    // WHEN an execution that waits one real second starts
    let arn = start(&c, &sm, "run-1", json!({"n": 7, "wait": true})).await;
    let first = c
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        *first.status(),
        ExecutionStatus::Running,
        "StartExecution returns before the Wait ends"
    );
    // THEN it succeeds once the endpoint's timers run the Wait out
    let d = wait_until_closed(&c, &arn).await;
    assert_eq!(*d.status(), ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    assert_eq!(output, json!({"n": 7, "wait": true}));
    assert_eq!(d.state_machine_arn(), sm);
    assert!(d.stop_date().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_with_max_results_and_next_token() {
    let ep = endpoint(HandlerRegistry::new()).await;
    let c = client(&ep.url);
    let sm = create(&c, "history", PASS_WAIT_CHOICE).await;
    let arn = start(&c, &sm, "h", json!({"n": 1, "wait": false})).await;
    wait_until_closed(&c, &arn).await;

    let all = c
        .get_execution_history()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(all.next_token().is_none());
    let types: Vec<_> = all.events().iter().map(|e| e.r#type().clone()).collect();
    assert_eq!(
        types,
        vec![
            HistoryEventType::ExecutionStarted,
            HistoryEventType::PassStateEntered,
            HistoryEventType::PassStateExited,
            HistoryEventType::ChoiceStateEntered,
            HistoryEventType::ChoiceStateExited,
            HistoryEventType::SucceedStateEntered,
            HistoryEventType::SucceedStateExited,
            HistoryEventType::ExecutionSucceeded,
        ]
    );
    let started = all.events()[0].execution_started_event_details().unwrap();
    assert_eq!(started.input(), Some(r#"{"n":1,"wait":false}"#));
    let entered = all.events()[1].state_entered_event_details().unwrap();
    assert_eq!(entered.name(), "Prepare");

    // WHEN it is read two events at a time
    let mut paged = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = c
            .get_execution_history()
            .execution_arn(&arn)
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        assert!(page.events().len() <= 2);
        paged.extend(
            page.events()
                .iter()
                .map(|e| (e.id(), e.previous_event_id())),
        );
        pages += 1;
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    // THEN the pages hold every event once, in order
    assert_eq!(pages, 4);
    let expected: Vec<(i64, i64)> = (1..=8).map(|i| (i, i - 1)).collect();
    assert_eq!(paged, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_in_reverse_order_starts_with_the_last_event() {
    let ep = endpoint(HandlerRegistry::new()).await;
    let c = client(&ep.url);
    let sm = create(&c, "reverse", PASS_WAIT_CHOICE).await;
    let arn = start(&c, &sm, "r", json!({"n": 1, "wait": false})).await;
    wait_until_closed(&c, &arn).await;
    let first = c
        .get_execution_history()
        .execution_arn(&arn)
        .reverse_order(true)
        .max_results(3)
        .send()
        .await
        .unwrap();
    let ids: Vec<i64> = first.events().iter().map(|e| e.id()).collect();
    assert_eq!(ids, vec![8, 7, 6]);
    assert_eq!(
        *first.events()[0].r#type(),
        HistoryEventType::ExecutionSucceeded
    );
    let second = c
        .get_execution_history()
        .execution_arn(&arn)
        .reverse_order(true)
        .max_results(3)
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    let ids: Vec<i64> = second.events().iter().map(|e| e.id()).collect();
    assert_eq!(ids, vec![5, 4, 3]);
    // a token of the forward listing is not one of the reverse listing
    let forward = c
        .get_execution_history()
        .execution_arn(&arn)
        .max_results(3)
        .send()
        .await
        .unwrap();
    let err = c
        .get_execution_history()
        .execution_arn(&arn)
        .reverse_order(true)
        .next_token(forward.next_token().unwrap())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_token(), "{err:?}");
}

/// A registry whose `Notify` handler hands each task token to the test, as a notifier would
/// hand it to a reviewer, and the receiving end.
fn token_handler() -> (
    HandlerRegistry,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let registry = HandlerRegistry::new().with_fn("Notify", move |payload: Value, _ctx| {
        let tx = tx.clone();
        async move {
            let token = payload["token"].as_str().unwrap_or_default().to_string();
            tx.send(token)
                .map_err(|e| TaskFailure::new("Notify.Failed", e.to_string()))?;
            Ok(json!({"StatusCode": 202}))
        }
    });
    (registry, rx)
}

const CALLBACK: &str = r#"{"StartAt":"Ask","States":{
  "Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
         "Parameters":{"FunctionName":"Notify","Payload":{"token.$":"$$.Task.Token","doc.$":"$.doc"}},
         "HeartbeatSeconds":600,"ResultPath":"$.answer","End":true}}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_for_task_token_task_is_completed_by_another_client() {
    // GIVEN a handler that hands the task token to the test, as a notifier would to a reviewer
    let (registry, mut rx) = token_handler();
    let ep = endpoint(registry).await;
    let starter = client(&ep.url);
    let sm = create(&starter, "callback", CALLBACK).await;
    let arn = start(&starter, &sm, "ask-1", json!({"doc": "d-1"})).await;
    let token = rx.recv().await.unwrap();
    assert!(!token.is_empty());

    // the scheduled task is reported in the service's shape, without the token
    let h = starter
        .get_execution_history()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    let scheduled = h
        .events()
        .iter()
        .find_map(|e| e.task_scheduled_event_details())
        .unwrap();
    assert_eq!(scheduled.resource_type(), "lambda");
    assert_eq!(scheduled.resource(), "invoke.waitForTaskToken");
    assert_eq!(scheduled.heartbeat_in_seconds(), Some(600));
    let parameters: Value = serde_json::from_str(scheduled.parameters()).unwrap();
    assert_eq!(parameters["FunctionName"], "Notify");
    assert!(!scheduled.parameters().contains(&token));
    let still = starter
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(*still.status(), ExecutionStatus::Running);

    // WHEN a second client (the reviewer's side) answers with the token
    let reviewer = client(&ep.url);
    reviewer
        .send_task_heartbeat()
        .task_token(&token)
        .send()
        .await
        .unwrap();
    reviewer
        .send_task_success()
        .task_token(&token)
        .output(r#"{"approved":true}"#)
        .send()
        .await
        .unwrap();

    // THEN the execution succeeds with the answer, and the token cannot be used again
    let d = wait_until_closed(&starter, &arn).await;
    assert_eq!(*d.status(), ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    assert_eq!(output, json!({"doc": "d-1", "answer": {"approved": true}}));
    let again = reviewer
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(again.is_task_timed_out(), "{again:?}");
    let unknown = reviewer
        .send_task_failure()
        .task_token("not-a-token")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(unknown.is_invalid_token(), "{unknown:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_arrive_as_the_sdks_typed_exceptions() {
    let ep = endpoint(HandlerRegistry::new()).await;
    let c = client(&ep.url);

    let missing = c
        .describe_execution()
        .execution_arn("arn:aws:states:local:000000000000:execution:none:none")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(missing, DescribeExecutionError::ExecutionDoesNotExist(_)),
        "{missing:?}"
    );

    let invalid = c
        .create_state_machine()
        .name("bad")
        .definition(r#"{"StartAt":"Nowhere","States":{"A":{"Type":"Pass","End":true}}}"#)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let CreateStateMachineError::InvalidDefinition(e) = &invalid else {
        panic!("expected InvalidDefinition, got {invalid:?}");
    };
    assert!(e.message().unwrap().contains("Nowhere"), "{e:?}");

    let sm = create(&c, "hour", HOUR_WAIT).await;
    let first = start(&c, &sm, "once", json!({"wait": true})).await;
    // the same name and input while RUNNING: the same execution, as on AWS
    let again = start(&c, &sm, "once", json!({"wait": true})).await;
    assert_eq!(first, again);
    let clash = c
        .start_execution()
        .state_machine_arn(&sm)
        .name("once")
        .input(r#"{"wait":false}"#)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(clash, StartExecutionError::ExecutionAlreadyExists(_)),
        "{clash:?}"
    );
    let bad_input = c
        .start_execution()
        .state_machine_arn(&sm)
        .input("{not json")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(bad_input.is_invalid_execution_input(), "{bad_input:?}");
    let no_arn = c
        .describe_state_machine()
        .state_machine_arn("hour")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(no_arn.is_invalid_arn(), "{no_arn:?}");
    let taken = c
        .create_state_machine()
        .name("hour")
        .definition(PASS_WAIT_CHOICE)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(taken.is_state_machine_already_exists(), "{taken:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_operations_and_bad_bodies_get_aws_error_shapes() {
    let ep = endpoint(HandlerRegistry::new()).await;
    let (status, head, body) = raw(&ep.url, "AWSStepFunctions.CreateActivity", "{}").await;
    assert_eq!(status, 400);
    assert!(
        head.contains("x-amzn-errortype: unknownoperationexception"),
        "{head}"
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["__type"], "UnknownOperationException");
    assert!(v["message"].as_str().unwrap().contains("CreateActivity"));

    let (status, _, body) = raw(
        &ep.url,
        "AWSStepFunctions.StartExecution",
        r#"{"name":"x"}"#,
    )
    .await;
    assert_eq!(status, 400);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["__type"], "ValidationException");
    assert!(
        v["message"].as_str().unwrap().contains("stateMachineArn"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_executions_filters_by_status_and_pages() {
    let ep = endpoint(HandlerRegistry::new()).await;
    let c = client(&ep.url);
    let sm = create(&c, "mixed", HOUR_WAIT).await;
    let other = create(&c, "other", HOUR_WAIT).await;
    for i in 0..3 {
        start(&c, &sm, &format!("quick-{i}"), json!({"wait": false})).await;
    }
    for i in 0..2 {
        start(&c, &sm, &format!("slow-{i}"), json!({"wait": true})).await;
    }
    start(&c, &other, "elsewhere", json!({"wait": false})).await;

    let running = c
        .list_executions()
        .state_machine_arn(&sm)
        .status_filter(ExecutionStatus::Running)
        .send()
        .await
        .unwrap();
    let mut names: Vec<_> = running
        .executions()
        .iter()
        .map(|e| e.name().to_string())
        .collect();
    names.sort();
    assert_eq!(names, vec!["slow-0", "slow-1"]);

    let page1 = c
        .list_executions()
        .state_machine_arn(&sm)
        .status_filter(ExecutionStatus::Succeeded)
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(page1.executions().len(), 2);
    let page2 = c
        .list_executions()
        .state_machine_arn(&sm)
        .status_filter(ExecutionStatus::Succeeded)
        .max_results(2)
        .next_token(page1.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page2.executions().len(), 1);
    assert!(page2.next_token().is_none());
    let mut seen: Vec<_> = page1
        .executions()
        .iter()
        .chain(page2.executions())
        .map(|e| e.name().to_string())
        .collect();
    seen.sort();
    assert_eq!(seen, vec!["quick-0", "quick-1", "quick-2"]);
    assert!(page1
        .executions()
        .iter()
        .all(|e| *e.status() == ExecutionStatus::Succeeded && e.stop_date().is_some()));

    let all = c
        .list_executions()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap();
    assert_eq!(all.executions().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hitl_advance_time_skips_a_wait() {
    // GIVEN an execution waiting an hour in real time
    let ep = endpoint(HandlerRegistry::new()).await;
    let c = client(&ep.url);
    let sm = create(&c, "hour", HOUR_WAIT).await;
    let arn = start(&c, &sm, "wait-1", json!({"wait": true})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let d = c
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(*d.status(), ExecutionStatus::Running);

    // WHEN the extension moves the clock on by the hour
    let (status, _, body) = raw(
        &ep.url,
        "AWSStepFunctions.HitlAdvanceTime",
        r#"{"seconds": 3600}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["completed"], json!([arn]));

    // THEN the execution has finished, an hour later on its clock
    let d = c
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(*d.status(), ExecutionStatus::Succeeded);
    let waited = d.stop_date().unwrap().secs() - d.start_date().secs();
    assert!((3600..3700).contains(&waited), "{waited}");

    let (status, _, body) = raw(
        &ep.url,
        "AWSStepFunctions.HitlAdvanceTime",
        r#"{"seconds": -1}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("ValidationException") && body.contains("seconds"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_execution_aborts_a_running_execution() {
    let ep = endpoint(HandlerRegistry::new()).await;
    let c = client(&ep.url);
    let sm = create(&c, "hour", HOUR_WAIT).await;
    let arn = start(&c, &sm, "stop-me", json!({"wait": true})).await;
    c.stop_execution()
        .execution_arn(&arn)
        .error("Operator.Stopped")
        .cause("no longer needed")
        .send()
        .await
        .unwrap();
    let d = c
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(*d.status(), ExecutionStatus::Aborted);
    assert_eq!(d.error(), Some("Operator.Stopped"));
    let h = c
        .get_execution_history()
        .execution_arn(&arn)
        .reverse_order(true)
        .max_results(1)
        .send()
        .await
        .unwrap();
    let last = &h.events()[0];
    assert_eq!(*last.r#type(), HistoryEventType::ExecutionAborted);
    assert_eq!(
        last.execution_aborted_event_details().unwrap().cause(),
        Some("no longer needed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_lambda_task_is_redriven_through_the_endpoint() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let registry = HandlerRegistry::new().with_fn("Flaky", move |input: Value, _| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                Err(TaskFailure::new("Downstream.Unavailable", "try later"))
            } else {
                Ok(json!({"echo": input}))
            }
        }
    });
    let ep = endpoint(registry).await;
    let c = client(&ep.url);
    let sm = create(
        &c,
        "flaky",
        r#"{"StartAt":"Call","States":{"Call":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Flaky","End":true}}}"#,
    )
    .await;
    let arn = start(&c, &sm, "f", json!({"x": 1})).await;
    let d = wait_until_closed(&c, &arn).await;
    assert_eq!(*d.status(), ExecutionStatus::Failed);
    assert_eq!(d.error(), Some("Downstream.Unavailable"));

    c.redrive_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    let d = wait_until_closed(&c, &arn).await;
    assert_eq!(*d.status(), ExecutionStatus::Succeeded);
    assert_eq!(d.redrive_count(), Some(1));
    let h = c
        .get_execution_history()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    let types: Vec<_> = h.events().iter().map(|e| e.r#type().clone()).collect();
    assert!(
        types.contains(&HistoryEventType::LambdaFunctionFailed),
        "{types:?}"
    );
    assert!(
        types.contains(&HistoryEventType::LambdaFunctionSucceeded),
        "{types:?}"
    );
    let redriven = h
        .events()
        .iter()
        .find_map(|e| e.execution_redriven_event_details())
        .unwrap();
    assert_eq!(redriven.redrive_count(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_definition_reports_ok_and_diagnostics() {
    let ep = endpoint(HandlerRegistry::new()).await;
    let c = client(&ep.url);
    let ok = c
        .validate_state_machine_definition()
        .definition(PASS_WAIT_CHOICE)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.result().as_str(), "OK");
    assert!(ok.diagnostics().is_empty());
    let bad = c
        .validate_state_machine_definition()
        .definition(r#"{"StartAt":"Nowhere","States":{"A":{"Type":"Pass","End":true}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.result().as_str(), "FAIL");
    assert!(bad.diagnostics()[0].message().contains("Nowhere"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_machines_are_described_listed_and_updated() {
    let ep = endpoint(HandlerRegistry::new()).await;
    let c = client(&ep.url);
    let sm = create(&c, "first", HOUR_WAIT).await;
    create(&c, "second", PASS_WAIT_CHOICE).await;
    // the same name and definition again is the same machine
    assert_eq!(create(&c, "first", HOUR_WAIT).await, sm);
    let d = c
        .describe_state_machine()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap();
    assert_eq!(d.name(), "first");
    assert_eq!(d.definition(), HOUR_WAIT);

    let page = c.list_state_machines().max_results(1).send().await.unwrap();
    assert_eq!(page.state_machines()[0].name(), "first");
    let rest = c
        .list_state_machines()
        .next_token(page.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.state_machines()[0].name(), "second");

    let running = start(&c, &sm, "before-update", json!({"wait": true})).await;
    c.update_state_machine()
        .state_machine_arn(&sm)
        .definition(PASS_WAIT_CHOICE)
        .send()
        .await
        .unwrap();
    let d = c
        .describe_state_machine()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap();
    assert_eq!(d.definition(), PASS_WAIT_CHOICE);
    // a running execution keeps the definition it started with
    let for_exec = c
        .describe_state_machine_for_execution()
        .execution_arn(&running)
        .send()
        .await
        .unwrap();
    assert_eq!(for_exec.definition(), HOUR_WAIT);
}

/// boto3 from the project's tool venv (`.tools/venv-moto`, installed with moto by
/// `scripts/setup-test-tools.sh`): create, start, describe, history through boto3's paginator,
/// and an error caught as boto3's modelled exception.
const BOTO3_SCRIPT: &str = r#"
import json, sys, time, boto3, botocore.config
# inject_host_prefix=False: StartSyncExecution would otherwise go to sync-127.0.0.1
c = boto3.client("stepfunctions", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="AKIDTEST", aws_secret_access_key="secret",
                 config=botocore.config.Config(inject_host_prefix=False))
sm = c.create_state_machine(name="boto3", definition=sys.argv[2],
                            roleArn="arn:aws:iam::123456789012:role/test")["stateMachineArn"]
arn = c.start_execution(stateMachineArn=sm, name="b-1", input='{"n": 2, "wait": false}')["executionArn"]
for _ in range(200):
    d = c.describe_execution(executionArn=arn)
    if d["status"] != "RUNNING":
        break
    time.sleep(0.05)
pages = list(c.get_paginator("get_execution_history").paginate(
    executionArn=arn, PaginationConfig={"PageSize": 3}))
try:
    c.describe_execution(executionArn=arn + "-missing")
    missing = None
except c.exceptions.ExecutionDoesNotExist as e:
    missing = e.response["Error"]["Code"]
express = c.create_state_machine(name="boto3-express", type="EXPRESS",
    definition='{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"ok":true},"End":true}}}',
    roleArn="arn:aws:iam::123456789012:role/test")["stateMachineArn"]
sync = c.start_sync_execution(stateMachineArn=express, input="{}")
tested = c.test_state(definition='{"Type":"Pass","Next":"Then"}', input='{"a":1}',
                      roleArn="arn:aws:iam::123456789012:role/test")
c.delete_state_machine(stateMachineArn=express)
try:
    c.describe_state_machine(stateMachineArn=express)
    deleted = None
except c.exceptions.StateMachineDoesNotExist as e:
    deleted = e.response["Error"]["Code"]
print(json.dumps({
    "sync": [sync["status"], json.loads(sync["output"]), sync["billingDetails"]["billedMemoryUsedInMB"]],
    "tested": [tested["status"], tested["nextState"], json.loads(tested["output"])],
    "deleted": deleted,
    "status": d["status"], "output": json.loads(d["output"]),
    "startDateIsDatetime": hasattr(d["startDate"], "year"),
    "pages": len(pages), "events": [e["id"] for p in pages for e in p["events"]],
    "missing": missing}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_drives_the_endpoint() {
    let python =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv-moto/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup-test-tools.sh (boto3 comes with moto)",
        python.display()
    );
    let ep = endpoint(HandlerRegistry::new()).await;
    let url = ep.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .args(["-c", BOTO3_SCRIPT, &url, PASS_WAIT_CHOICE])
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "boto3 script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(v["output"], json!({"n": 2, "wait": false}));
    assert_eq!(v["startDateIsDatetime"], true);
    assert_eq!(v["pages"], 3);
    assert_eq!(v["events"], json!([1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(v["missing"], "ExecutionDoesNotExist");
    assert_eq!(v["sync"], json!(["SUCCEEDED", {"ok": true}, 64]));
    assert_eq!(v["tested"], json!(["SUCCEEDED", "Then", {"a": 1}]));
    assert_eq!(v["deleted"], "StateMachineDoesNotExist");
}

/// The AWS CLI (`aws stepfunctions …`, PyPI `awscli` v1 in `.tools/venv-awscli`, installed by
/// `scripts/setup-test-tools.sh`) pointed at the endpoint with `--endpoint-url`, with made-up
/// credentials. Returns the command's output.
fn aws_cli(url: &str, args: &[&str]) -> std::process::Output {
    let aws =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv-awscli/bin/aws");
    assert!(
        aws.exists(),
        "{} is missing: run scripts/setup-test-tools.sh",
        aws.display()
    );
    std::process::Command::new(aws)
        .args([
            "--endpoint-url",
            url,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .arg("stepfunctions")
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "")
        .output()
        .unwrap()
}

/// [`aws_cli`] that must succeed; its JSON answer (`{}` for commands that print nothing).
fn aws_ok(url: &str, args: &[&str]) -> Value {
    let out = aws_cli(url, args);
    assert!(
        out.status.success(),
        "aws stepfunctions {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_drives_the_endpoint() {
    // GIVEN the endpoint, with a handler that hands task tokens to the test (as a notifier
    // would hand them to a reviewer)
    let (registry, mut rx) = token_handler();
    let ep = endpoint(registry).await;
    let url = ep.url.clone();
    let cli = move |args: Vec<String>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            aws_ok(&url, &args)
        })
    };
    let owned = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    let role = "arn:aws:iam::123456789012:role/test";

    // create, start, describe until closed
    let sm = cli(owned(&[
        "create-state-machine",
        "--name",
        "cli",
        "--role-arn",
        role,
        "--definition",
        PASS_WAIT_CHOICE,
    ]))
    .await
    .unwrap()["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let arn = cli(owned(&[
        "start-execution",
        "--state-machine-arn",
        &sm,
        "--name",
        "cli-1",
        "--input",
        r#"{"n": 3, "wait": false}"#,
    ]))
    .await
    .unwrap()["executionArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut described = json!({});
    for _ in 0..200 {
        described = cli(owned(&["describe-execution", "--execution-arn", &arn]))
            .await
            .unwrap();
        if described["status"] != "RUNNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!({"n": 3, "wait": false}));

    // history: the CLI pages through it itself (--page-size 2), and --max-items stops early
    // with a token the next call resumes from
    let all = cli(owned(&[
        "get-execution-history",
        "--execution-arn",
        &arn,
        "--page-size",
        "2",
    ]))
    .await
    .unwrap();
    let ids: Vec<i64> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (1..=8).collect::<Vec<_>>());
    let first = cli(owned(&[
        "get-execution-history",
        "--execution-arn",
        &arn,
        "--max-items",
        "3",
        "--reverse-order",
    ]))
    .await
    .unwrap();
    let newest: Vec<i64> = first["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(newest, [8, 7, 6]);
    let token = first["NextToken"].as_str().unwrap().to_owned();
    let rest = cli(owned(&[
        "get-execution-history",
        "--execution-arn",
        &arn,
        "--reverse-order",
        "--starting-token",
        &token,
    ]))
    .await
    .unwrap();
    assert_eq!(rest["events"][0]["id"], 5, "{rest}");

    // a .waitForTaskToken task completed by `aws stepfunctions send-task-success`
    let callback = cli(owned(&[
        "create-state-machine",
        "--name",
        "cli-callback",
        "--role-arn",
        role,
        "--definition",
        CALLBACK,
    ]))
    .await
    .unwrap()["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let waiting = cli(owned(&[
        "start-execution",
        "--state-machine-arn",
        &callback,
        "--input",
        r#"{"doc": "d-9"}"#,
    ]))
    .await
    .unwrap()["executionArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let task_token = rx.recv().await.unwrap();
    cli(owned(&[
        "send-task-success",
        "--task-token",
        &task_token,
        "--task-output",
        r#"{"approved": true}"#,
    ]))
    .await
    .unwrap();
    let mut done = json!({});
    for _ in 0..200 {
        done = cli(owned(&["describe-execution", "--execution-arn", &waiting]))
            .await
            .unwrap();
        if done["status"] != "RUNNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!({"doc": "d-9", "answer": {"approved": true}}));

    // errors arrive as the CLI reports the service's: the code by name, a failing exit status
    let url = ep.url.clone();
    let missing = format!("{arn}-missing");
    let (unknown, reused, bad) = tokio::task::spawn_blocking(move || {
        (
            aws_cli(&url, &["describe-execution", "--execution-arn", &missing]),
            aws_cli(
                &url,
                &[
                    "send-task-success",
                    "--task-token",
                    &task_token,
                    "--task-output",
                    "{}",
                ],
            ),
            aws_cli(
                &url,
                &[
                    "create-state-machine",
                    "--name",
                    "broken",
                    "--role-arn",
                    "arn:aws:iam::123456789012:role/test",
                    "--definition",
                    r#"{"StartAt":"Nowhere","States":{}}"#,
                ],
            ),
        )
    })
    .await
    .unwrap();
    for (out, code) in [
        (&unknown, "ExecutionDoesNotExist"),
        (&reused, "TaskTimedOut"),
        (&bad, "InvalidDefinition"),
    ] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{code}: succeeded");
        assert!(stderr.contains(&format!("({code})")), "{code}: {stderr}");
    }
}

/// Pass → Choice → Succeed, or a Fail state when `$.fail` is true; an optional Wait first.
const EXPRESS_WORK: &str = r#"{"StartAt":"Shape","States":{
  "Shape":{"Type":"Pass","Parameters":{"doubled.$":"States.MathAdd($.n, $.n)","fail.$":"$.fail"},"Next":"Route"},
  "Route":{"Type":"Choice","Choices":[{"Variable":"$.fail","BooleanEquals":true,"Next":"Broken"}],"Default":"Done"},
  "Broken":{"Type":"Fail","Error":"Custom.Broken","Cause":"asked to fail"},
  "Done":{"Type":"Succeed"}}}"#;

async fn create_express(c: &Client, name: &str, definition: &str) -> String {
    c.create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(ROLE)
        .r#type(StateMachineType::Express)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_sync_execution_answers_an_express_machines_result() {
    // GIVEN an EXPRESS state machine
    let ep = endpoint(HandlerRegistry::new()).await;
    let c = client(&ep.url);
    let sm = create_express(&c, "express", EXPRESS_WORK).await;
    let described = c
        .describe_state_machine()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap();
    assert_eq!(*described.r#type(), StateMachineType::Express);
    let listed = c.list_state_machines().send().await.unwrap();
    assert_eq!(
        *listed.state_machines()[0].r#type(),
        StateMachineType::Express
    );

    // WHEN it is run synchronously and succeeds
    let ok = c
        .start_sync_execution()
        .state_machine_arn(&sm)
        .name("ok")
        .input(r#"{"n": 21, "fail": false}"#)
        .send()
        .await
        .unwrap();
    // THEN the answer carries the result, the input and the billing details
    assert_eq!(*ok.status(), SyncExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(ok.output().unwrap()).unwrap();
    assert_eq!(output, json!({"doubled": 42, "fail": false}));
    assert_eq!(ok.name(), Some("ok"));
    assert_eq!(ok.state_machine_arn(), Some(sm.as_str()));
    let input: Value = serde_json::from_str(ok.input().unwrap()).unwrap();
    assert_eq!(input, json!({"n": 21, "fail": false}));
    assert!(ok.stop_date().secs() >= ok.start_date().secs());
    let billing = ok.billing_details().unwrap();
    assert_eq!(billing.billed_memory_used_in_mb(), 64);
    assert_eq!(billing.billed_duration_in_milliseconds() % 100, 0);
    assert!(billing.billed_duration_in_milliseconds() >= 100);
    assert!(ok.error().is_none() && ok.cause().is_none());

    // WHEN it fails THEN status FAILED with the Fail state's error and cause, no output
    let failed = c
        .start_sync_execution()
        .state_machine_arn(&sm)
        .input(r#"{"n": 1, "fail": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(*failed.status(), SyncExecutionStatus::Failed);
    assert_eq!(failed.error(), Some("Custom.Broken"));
    assert_eq!(failed.cause(), Some("asked to fail"));
    assert!(failed.output().is_none());

    // AND bad input is refused as for StartExecution
    let bad = c
        .start_sync_execution()
        .state_machine_arn(&sm)
        .input("{nope")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(bad.is_invalid_execution_input(), "{bad:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_sync_execution_times_out_and_refuses_standard_machines() {
    let ep = endpoint(HandlerRegistry::new()).await;
    let c = client(&ep.url);
    // GIVEN an EXPRESS machine whose one-second timeout comes before its hour-long wait
    let sm = create_express(
        &c,
        "slow",
        r#"{"TimeoutSeconds":1,"StartAt":"Pause","States":{
          "Pause":{"Type":"Wait","Seconds":3600,"End":true}}}"#,
    )
    .await;
    // WHEN it is run synchronously THEN it is answered TIMED_OUT after about a second
    let t0 = std::time::Instant::now();
    let out = c
        .start_sync_execution()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap();
    assert_eq!(*out.status(), SyncExecutionStatus::TimedOut);
    assert_eq!(out.error(), Some("States.Timeout"));
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());

    // AND a STANDARD machine cannot be run synchronously
    let standard = create(&c, "standard", PASS_WAIT_CHOICE).await;
    let refused = c
        .start_sync_execution()
        .state_machine_arn(&standard)
        .input(r#"{"n":1,"wait":false}"#)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(refused.is_state_machine_type_not_supported(), "{refused:?}");

    // AND an EXPRESS machine may not wait for a task token
    let callback = c
        .create_state_machine()
        .name("express-callback")
        .definition(
            r#"{"StartAt":"Ask","States":{"Ask":{"Type":"Task",
              "Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
              "Parameters":{"FunctionName":"f","Payload":{"token.$":"$$.Task.Token"}},"End":true}}}"#,
        )
        .role_arn(ROLE)
        .r#type(StateMachineType::Express)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let CreateStateMachineError::InvalidDefinition(e) = &callback else {
        panic!("expected InvalidDefinition, got {callback:?}");
    };
    assert!(e.message().unwrap().contains("waitForTaskToken"), "{e:?}");
    // AND an unknown type is refused naming the field
    let (status, _, body) = raw(
        &ep.url,
        "AWSStepFunctions.CreateStateMachine",
        &json!({"name":"x","definition":PASS_WAIT_CHOICE,"roleArn":ROLE,"type":"FAST"}).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("ValidationException") && body.contains("type"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_state_machine_lets_running_executions_finish() {
    // GIVEN a state machine with an execution waiting an hour
    let ep = endpoint(HandlerRegistry::new()).await;
    let c = client(&ep.url);
    let sm = create(&c, "doomed", HOUR_WAIT).await;
    let keep = create(&c, "kept", HOUR_WAIT).await;
    let running = start(&c, &sm, "in-flight", json!({"wait": true})).await;

    // WHEN it is deleted
    c.delete_state_machine()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap();

    // THEN describing or starting it is StateMachineDoesNotExist, and it is no longer listed
    let gone = c
        .describe_state_machine()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(gone.is_state_machine_does_not_exist(), "{gone:?}");
    let no_start = c
        .start_execution()
        .state_machine_arn(&sm)
        .input("{}")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(no_start.is_state_machine_does_not_exist(), "{no_start:?}");
    let listed = c.list_state_machines().send().await.unwrap();
    let arns: Vec<&str> = listed
        .state_machines()
        .iter()
        .map(|m| m.state_machine_arn())
        .collect();
    assert_eq!(arns, [keep.as_str()]);
    // AND deleting it again is answered with success
    c.delete_state_machine()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap();

    // AND the running execution carries on to the end
    let (status, _, body) = raw(
        &ep.url,
        "AWSStepFunctions.HitlAdvanceTime",
        r#"{"seconds": 3600}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let d = wait_until_closed(&c, &running).await;
    assert_eq!(*d.status(), ExecutionStatus::Succeeded);
    assert_eq!(
        serde_json::from_str::<Value>(d.output().unwrap()).unwrap(),
        json!({"wait": true, "result": "waited"})
    );
}

/// A Lambda task retried once on `Lambda.ServiceException`, then an SNS publish.
const MOCKED: &str = r#"{"StartAt":"Call","States":{
  "Call":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
    "Parameters":{"FunctionName":"score","Payload.$":"$"},
    "Retry":[{"ErrorEquals":["Lambda.ServiceException"],"IntervalSeconds":1,"MaxAttempts":1}],
    "ResultSelector":{"score.$":"$.Payload.score"},"ResultPath":"$.call","Next":"Notify"},
  "Notify":{"Type":"Task","Resource":"arn:aws:states:::sns:publish",
    "Parameters":{"TopicArn":"arn:aws:sns:us-east-1:123456789012:t","Message.$":"$.call"},
    "ResultSelector":{"id.$":"$.MessageId"},"ResultPath":"$.notify","End":true}}}"#;

/// The mock configuration for [`MOCKED`], in Step Functions Local's format.
const MOCK_CONFIG: &str = r#"{
  "StateMachines": {"scored": {"TestCases": {
    "HappyPath": {"Call": "ScoreOk", "Notify": "Published"},
    "RetryPath": {"Call": "ScoreFlaky", "Notify": "Published"},
    "FailPath": {"Call": "ScoreDown"}}}},
  "MockedResponses": {
    "ScoreOk": {"0": {"Return": {"StatusCode": 200, "Payload": {"score": 7}}}},
    "ScoreFlaky": {"0": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "flaky"}},
                   "1": {"Return": {"StatusCode": 200, "Payload": {"score": 9}}}},
    "ScoreDown": {"0-1": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "down"}}},
    "Published": {"0": {"Return": {"MessageId": "m-1"}}}}}"#;

async fn mocked_endpoint(registry: HandlerRegistry) -> (Endpoint, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("MockConfigFile.json");
    std::fs::write(&path, MOCK_CONFIG).unwrap();
    let mocks = service::MockConfig::load(&path).unwrap();
    let store = Arc::new(MemoryExecutionStore::new());
    let engine = Arc::new(service::endpoint_engine(store, registry).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(service::serve_with_mocks(listener, engine.clone(), mocks));
    (
        Endpoint {
            url,
            _engine: engine,
        },
        dir,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_configuration_test_case_answers_the_tasks() {
    // GIVEN an endpoint with a mock configuration and a real handler for the function
    let registry = HandlerRegistry::new().with_fn("score", |_input: Value, _ctx| async move {
        Ok(json!({"score": 1}))
    });
    let (ep, _dir) = mocked_endpoint(registry).await;
    let c = client(&ep.url);
    let sm = create(&c, "scored", MOCKED).await;

    // WHEN executions name test cases after '#'
    let happy = start(&c, &format!("{sm}#HappyPath"), "happy", json!({"id": 1})).await;
    let retry = start(&c, &format!("{sm}#RetryPath"), "retry", json!({"id": 2})).await;
    let fail = start(&c, &format!("{sm}#FailPath"), "fail", json!({"id": 3})).await;

    // THEN each task gets its mocked response, by invocation number (retries included)
    let d = wait_until_closed(&c, &happy).await;
    assert_eq!(*d.status(), ExecutionStatus::Succeeded);
    assert_eq!(d.state_machine_arn(), sm);
    assert_eq!(
        serde_json::from_str::<Value>(d.output().unwrap()).unwrap(),
        json!({"id": 1, "call": {"score": 7}, "notify": {"id": "m-1"}})
    );
    let d = wait_until_closed(&c, &retry).await;
    assert_eq!(*d.status(), ExecutionStatus::Succeeded, "{d:?}");
    assert_eq!(
        serde_json::from_str::<Value>(d.output().unwrap()).unwrap()["call"],
        json!({"score": 9})
    );
    let d = wait_until_closed(&c, &fail).await;
    assert_eq!(*d.status(), ExecutionStatus::Failed);
    assert_eq!(d.error(), Some("Lambda.ServiceException"));
    assert_eq!(d.cause(), Some("down"));

    // AND without a test case the registered handler runs, and the unmocked SNS task fails
    let plain = start(&c, &sm, "plain", json!({"id": 4})).await;
    let d = wait_until_closed(&c, &plain).await;
    assert_eq!(*d.status(), ExecutionStatus::Failed);
    assert_eq!(d.error(), Some("States.Runtime"));
    assert!(d.cause().unwrap().contains("sns:publish"), "{d:?}");

    // AND a test case the configuration does not define is refused, naming it
    let unknown = c
        .start_execution()
        .state_machine_arn(format!("{sm}#NoSuchCase"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        format!("{unknown:?}").contains("NoSuchCase")
            && format!("{unknown:?}").contains("ValidationException"),
        "{unknown:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_case_without_a_mock_configuration_is_an_invalid_arn() {
    let ep = endpoint(HandlerRegistry::new()).await;
    let c = client(&ep.url);
    let sm = create(&c, "scored", MOCKED).await;
    let refused = c
        .start_execution()
        .state_machine_arn(format!("{sm}#HappyPath"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(refused.is_invalid_arn(), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_state_runs_one_state_and_names_the_next() {
    let registry = HandlerRegistry::new().with_fn("flaky", |_input: Value, _ctx| async move {
        Err(TaskFailure::new("Custom.Flaky", "try again"))
    });
    let ep = endpoint(registry).await;
    let c = client(&ep.url);
    let run = |definition: &'static str, input: &'static str| {
        c.test_state()
            .definition(definition)
            .role_arn(ROLE)
            .input(input)
            .send()
    };

    // a Pass state: its output and its Next
    let pass = run(
        r#"{"Type":"Pass","Parameters":{"sum.$":"States.MathAdd($.a, $.b)"},"Next":"After"}"#,
        r#"{"a": 2, "b": 3}"#,
    )
    .await
    .unwrap();
    assert_eq!(*pass.status().unwrap(), TestExecutionStatus::Succeeded);
    assert_eq!(
        serde_json::from_str::<Value>(pass.output().unwrap()).unwrap(),
        json!({"sum": 5})
    );
    assert_eq!(pass.next_state(), Some("After"));

    // a Choice state: the branch it takes
    let choice = r#"{"Type":"Choice","Choices":[{"Variable":"$.n","NumericGreaterThan":10,"Next":"Big"}],"Default":"Small"}"#;
    let big = run(choice, r#"{"n": 11}"#).await.unwrap();
    assert_eq!(big.next_state(), Some("Big"));
    let small = run(choice, r#"{"n": 1}"#).await.unwrap();
    assert_eq!(small.next_state(), Some("Small"));

    // a failing task with a matching Retry: RETRIABLE, not retried
    let retriable = run(
        r#"{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:flaky",
            "Retry":[{"ErrorEquals":["Custom.Flaky"],"MaxAttempts":2}],"End":true}"#,
        "{}",
    )
    .await
    .unwrap();
    assert_eq!(*retriable.status().unwrap(), TestExecutionStatus::Retriable);
    assert_eq!(retriable.error(), Some("Custom.Flaky"));
    assert_eq!(retriable.cause(), Some("try again"));

    // a failing task with a Catch: CAUGHT_ERROR and the catcher's Next
    let caught = run(
        r#"{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:flaky",
            "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.err","Next":"Recover"}],"End":true}"#,
        r#"{"k": 1}"#,
    )
    .await
    .unwrap();
    assert_eq!(*caught.status().unwrap(), TestExecutionStatus::CaughtError);
    assert_eq!(caught.next_state(), Some("Recover"));
    assert_eq!(caught.error(), Some("Custom.Flaky"));
    let out: Value = serde_json::from_str(caught.output().unwrap()).unwrap();
    assert_eq!(out["k"], 1);
    assert_eq!(out["err"]["Error"], "Custom.Flaky");

    // a Fail state: FAILED with its error and cause; DEBUG adds the inspection data
    let failed = c
        .test_state()
        .definition(r#"{"Type":"Fail","Error":"E.Bad","Cause":"because"}"#)
        .role_arn(ROLE)
        .input("{}")
        .inspection_level(InspectionLevel::Debug)
        .send()
        .await
        .unwrap();
    assert_eq!(*failed.status().unwrap(), TestExecutionStatus::Failed);
    assert_eq!(failed.error(), Some("E.Bad"));
    assert_eq!(failed.cause(), Some("because"));
    assert_eq!(failed.inspection_data().unwrap().input(), Some("{}"));

    // an invalid state is InvalidDefinition
    let invalid = run(r#"{"Type":"Pass","Next":"X","End":true}"#, "{}")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(invalid.is_invalid_definition(), "{invalid:?}");
}
