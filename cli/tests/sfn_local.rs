//! Issue 32: `hitl sfn-local` serves the local engine as a Step Functions endpoint with the
//! project's state machine and functions in process. The real AWS SDK for Rust drives it: it
//! lists the project's state machine, starts a smoke batch of the real definition (the
//! synthetic reviewer decides each workflow through the real handlers) and follows every
//! execution to its end; errors arrive as the SDK's typed exceptions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;

struct Endpoint {
    child: Child,
    url: String,
    _data: tempfile::TempDir,
    // Kept open: the endpoint prints more than its first line.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let status = self.child.try_wait();
            let errors = std::fs::read_to_string(self._data.path().join("stderr.log"));
            eprintln!("hitl sfn-local: {status:?}; its errors: {errors:?}");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_endpoint() -> Endpoint {
    start_endpoint_with(&[])
}

fn start_endpoint_with(extra: &[&str]) -> Endpoint {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .args(["--data-dir"])
        .arg(data.path())
        .args(["sfn-local", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(data.path().join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();
    // Serving: a connection is accepted (or the process ended, and its errors say why).
    let addr = url.trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&addr).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let errors =
                std::fs::read_to_string(data.path().join("stderr.log")).unwrap_or_default();
            panic!("hitl sfn-local ended ({status}): {errors}");
        }
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
    Endpoint {
        child,
        url,
        _data: data,
        _stdout: stdout,
    }
}

async fn client(url: &str) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(aws_sdk_sfn::config::BehaviorVersion::latest())
        .http_client(hitl_aws::https_client())
        .region(aws_sdk_sfn::config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

async fn until_done(sfn: &aws_sdk_sfn::Client, arn: &str) -> ExecutionStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .unwrap()
            .status;
        if status != ExecutionStatus::Running || Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_runs_the_projects_definition_with_its_handlers_through_the_endpoint() {
    let endpoint = start_endpoint();
    let sfn = client(&endpoint.url).await;

    let machines = sfn.list_state_machines().send().await.unwrap();
    let machine = machines
        .state_machines()
        .iter()
        .find(|m| m.name() == "hitl-review")
        .expect("the project's state machine is served");
    let arn = machine.state_machine_arn().to_owned();

    let input = serde_json::json!({
        "action": "start_workflow",
        "smoke": true,
        "request_id": "sdk-smoke-1",
        "config": {"max_iterations": 3, "batch_size": 2},
    });
    let started = sfn
        .start_execution()
        .state_machine_arn(&arn)
        .name("sdk-smoke-1")
        .input(input.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        until_done(&sfn, started.execution_arn()).await,
        ExecutionStatus::Succeeded
    );

    // The batch started one execution per workflow; the synthetic reviewer decides each one
    // through process-feedback and the engine's SendTaskSuccess.
    let deadline = Instant::now() + Duration::from_secs(60);
    let items = loop {
        let listed = sfn
            .list_executions()
            .state_machine_arn(&arn)
            .send()
            .await
            .unwrap();
        let items: Vec<_> = listed
            .executions()
            .iter()
            .filter(|e| e.execution_arn() != started.execution_arn())
            .map(|e| (e.execution_arn().to_owned(), e.status().clone()))
            .collect();
        let done = items.len() == 2 && items.iter().all(|(_, s)| *s != ExecutionStatus::Running);
        if done || Instant::now() > deadline {
            break items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(items.len(), 2, "{items:?}");
    for (item, status) in &items {
        assert_eq!(*status, ExecutionStatus::Succeeded, "{item}");
        let history = sfn
            .get_execution_history()
            .execution_arn(item)
            .send()
            .await
            .unwrap();
        // The functions ran as `lambda:invoke` tasks, and the review waited for its token.
        let lambda_calls = history
            .events()
            .iter()
            .filter_map(|e| e.task_scheduled_event_details())
            .filter(|d| d.resource_type() == "lambda")
            .count();
        let waits = history
            .events()
            .iter()
            .filter(|e| e.r#type().as_str() == "TaskSubmitted")
            .count();
        assert!(lambda_calls >= 4, "{item}: {lambda_calls} handler calls");
        assert!(waits >= 1, "{item}: the review never waited for its token");
    }

    // Bad input gets the service's typed errors.
    let err = sfn
        .describe_execution()
        .execution_arn(format!(
            "{}:nope",
            arn.replace(":stateMachine:", ":execution:")
        ))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_execution_does_not_exist(), "{err:?}");
    let err = sfn
        .start_execution()
        .state_machine_arn(&arn)
        .name("sdk-smoke-1")
        .input("{\"different\": true}")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_execution_already_exists(), "{err:?}");
}

/// A Step Functions Local mock configuration answers the project's Task states for the test
/// case named after `#` in the state machine ARN: the draft step fails as mocked, and the
/// definition's catch-all records the failure with the real finalize handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_configuration_test_case_answers_the_projects_task_states() {
    let dir = tempfile::tempdir().unwrap();
    let mocks = dir.path().join("mocks.json");
    std::fs::write(
        &mocks,
        r#"{"StateMachines": {"hitl-review": {"TestCases": {"DraftDown": {"GenerateMetadata": "Down"}}}},
            "MockedResponses": {"Down": {"0-9": {"Throw": {"Error": "Mock.Down", "Cause": "the model is down"}}}}}"#,
    )
    .unwrap();
    let endpoint = start_endpoint_with(&["--mock-config", mocks.to_str().unwrap()]);
    let sfn = client(&endpoint.url).await;
    let arn = sfn
        .list_state_machines()
        .send()
        .await
        .unwrap()
        .state_machines()[0]
        .state_machine_arn()
        .to_owned();
    // A per-item input (what the batch's Map hands each child execution): it runs inline.
    let input = serde_json::json!({
        "request_id": "mocked-1",
        "index": 0,
        "execution_name": "mocked-1",
        "subject": {"id": "brand-001", "name": "Acme Coffee", "category": "food"},
        "config": hitl_domain::model::WorkflowConfig::default(),
    });
    let started = sfn
        .start_execution()
        .state_machine_arn(format!("{arn}#DraftDown"))
        .name("mocked-1")
        .input(input.to_string())
        .send()
        .await
        .unwrap();
    until_done(&sfn, started.execution_arn()).await;
    // One subject runs in this execution (no fan-out), through the mocked draft step.
    let deadline = Instant::now() + Duration::from_secs(30);
    let failed_with = loop {
        let mut found = None;
        for execution in sfn
            .list_executions()
            .state_machine_arn(&arn)
            .send()
            .await
            .unwrap()
            .executions()
        {
            let history = sfn
                .get_execution_history()
                .execution_arn(execution.execution_arn())
                .send()
                .await
                .unwrap();
            if let Some(details) = history
                .events()
                .iter()
                .find_map(|e| e.task_failed_event_details())
            {
                found = Some(details.error().unwrap_or_default().to_owned());
            }
        }
        if found.is_some() || Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(failed_with.as_deref(), Some("Mock.Down"));
}

#[test]
fn a_bad_mock_configuration_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mocks = dir.path().join("mocks.json");
    std::fs::write(
        &mocks,
        r#"{"StateMachines": {"hitl-review": {"TestCases": {"X": {"GenerateMetadata": "Missing"}}}}, "MockedResponses": {}}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["sfn-local", "--addr", "127.0.0.1:0", "--mock-config"])
        .arg(&mocks)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--mock-config") && stderr.contains("Missing"),
        "{stderr}"
    );
}

/// A reader that stops after the address line (`hitl sfn-local | head -1`) must not end the
/// endpoint: it used to print a second line into the closed pipe and exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_keeps_serving_when_its_output_is_no_longer_read() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .arg("--data-dir")
        .arg(data.path())
        .args(["sfn-local", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    {
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
    } // the pipe's reading end is closed here
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let alive = child.try_wait().unwrap().is_none();
    let listed = client(&url).await.list_state_machines().send().await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(alive, "the endpoint ended when its output was closed");
    assert_eq!(listed.unwrap().state_machines().len(), 1);
}

/// A Lambda Runtime Interface Emulator's invoke route, as the emulator answers it: the
/// function's result, or `{"errorType", "errorMessage"}` for a function error. The function
/// doubles `n`; `{"fail": true}` raises `ValueError`. Returns the base URL and the payloads seen.
async fn start_emulator() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    use axum::routing::post;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/2015-03-31/functions/function/invocations",
        post(move |axum::Json(event): axum::Json<serde_json::Value>| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(event.clone());
                if event["fail"] == true {
                    axum::Json(serde_json::json!({"errorType": "ValueError", "errorMessage": "n must be a number"}))
                } else {
                    axum::Json(serde_json::json!({"doubled": event["n"].as_i64().unwrap_or(0) * 2}))
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

/// Issue 32: `--lambda NAME=URL` sends a function's tasks to a Lambda Runtime Interface
/// Emulator: its ARN and `lambda:invoke` both reach it, its result is the task's result, and a
/// function error fails the task with the function's `errorType`, which `Catch` matches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_behind_a_runtime_interface_emulator_runs_the_tasks_that_name_it() {
    let (rie, seen) = start_emulator().await;
    let endpoint = start_endpoint_with(&[
        "--lambda",
        &format!("doubler={rie}"),
        "--lambda",
        "gone=http://127.0.0.1:9",
    ]);
    let sfn = client(&endpoint.url).await;
    let definition = serde_json::json!({"StartAt": "Double", "States": {
        "Double": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:doubler",
            "ResultPath": "$.first", "Next": "Again"},
        "Again": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "doubler", "Payload": {"n.$": "$.first.doubled", "fail.$": "$.fail_second"}},
            "ResultSelector": {"doubled.$": "$.Payload.doubled"}, "ResultPath": "$.second",
            "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.error", "Next": "Caught"}],
            "End": true},
        "Caught": {"Type": "Pass", "End": true}}});
    let arn = sfn
        .create_state_machine()
        .name("rie-doubler")
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/test")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let run = |name: &'static str, input: serde_json::Value| {
        let sfn = sfn.clone();
        let arn = arn.clone();
        async move {
            let started = sfn
                .start_execution()
                .state_machine_arn(&arn)
                .name(name)
                .input(input.to_string())
                .send()
                .await
                .unwrap();
            let status = until_done(&sfn, started.execution_arn()).await;
            let described = sfn
                .describe_execution()
                .execution_arn(started.execution_arn())
                .send()
                .await
                .unwrap();
            assert_eq!(
                status,
                ExecutionStatus::Succeeded,
                "{:?}: {:?}",
                described.error(),
                described.cause()
            );
            let output = described.output().unwrap_or("null").to_owned();
            serde_json::from_str::<serde_json::Value>(&output).unwrap()
        }
    };
    let output = run("twice", serde_json::json!({"n": 5, "fail_second": false})).await;
    assert_eq!(output["first"]["doubled"], 10, "{output}");
    assert_eq!(output["second"]["doubled"], 20, "{output}");
    assert_eq!(
        seen.lock().unwrap().clone(),
        [
            serde_json::json!({"n": 5, "fail_second": false}),
            serde_json::json!({"n": 10, "fail": false})
        ],
        "the emulator got each task's payload"
    );
    let output = run("caught", serde_json::json!({"n": 1, "fail_second": true})).await;
    assert_eq!(output["error"]["Error"], "ValueError", "{output}");
    assert_eq!(output["error"]["Cause"], "n must be a number", "{output}");

    // An emulator that cannot be reached fails the task as the service does.
    let gone = sfn
        .create_state_machine()
        .name("rie-gone")
        .definition(
            serde_json::json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:gone", "End": true}}})
            .to_string(),
        )
        .role_arn("arn:aws:iam::123456789012:role/test")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let started = sfn
        .start_execution()
        .state_machine_arn(&gone)
        .input("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        until_done(&sfn, started.execution_arn()).await,
        ExecutionStatus::Failed
    );
    let described = sfn
        .describe_execution()
        .execution_arn(started.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(described.error(), Some("Lambda.ServiceException"));
    assert!(
        described
            .cause()
            .unwrap_or_default()
            .contains("function gone at http://127.0.0.1:9"),
        "{:?}",
        described.cause()
    );
}

#[test]
fn a_malformed_lambda_option_is_refused_naming_it() {
    for (bad, says) in [
        ("doubler", "is not NAME=URL"),
        ("=http://127.0.0.1:9000", "is not a Lambda function name"),
        (
            "doubler=ftp://127.0.0.1",
            "is not an http:// or https:// URL",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
            .args(["sfn-local", "--addr", "127.0.0.1:0", "--lambda", bad])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{bad}: {err}");
    }
}
