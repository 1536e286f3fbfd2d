//! `hitl aws` against emulated AWS on 127.0.0.1: the real `hitl` binary with the real SDK
//! clients, a CloudFormation stack whose outputs and parameters name the resources, a DynamoDB
//! table with the status index, Lambda functions and an SQS queue on moto server, and — issue
//! 32 — the Step Functions part on this project's own endpoint (`statemachine::service`, what
//! `hitl sfn-local` serves), not on moto: a Standard state machine waiting on a task token
//! (`sqs:sendMessage.waitForTaskToken`, whose message a handler posts to moto's queue), driven
//! by `hitl aws` through `AWS_ENDPOINT_URL_SFN`. The real reviewer API router runs on the same
//! table. Bedrock is not
//! implemented by moto; `deploy-agent` and the alias check are tested with `aws-smithy-mocks`
//! in `cli/tests/aws_agent.rs`.
//!
//! Every test has its own environment ([`Env::new`]: a moto server, the stack, the API; about
//! a second), so one behaviour per test and no test sees another's workflows.
//!
//! Needs `.tools/venv-moto` (installed by `scripts/setup-test-tools.sh`); a missing moto fails
//! the test, it is never skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::moto::{Moto, REGION};
use hitl_aws::dynamodb::DynamoStore;
use hitl_domain::contracts::workflow_id;
use hitl_domain::model::{TaskToken, Workflow, WorkflowStatus};
use hitl_domain::rules;
use hitl_domain::store::contract::sample_workflow;
use hitl_domain::store::WorkflowStore;
use serde_json::{json, Value};

const STACK: &str = "hitl-moto";

impl Env {
    /// Runs `hitl <global> aws --stack hitl-moto <args>` against moto, Step Functions against
    /// the project's endpoint (no `--json` unless `global` has it).
    fn hitl_as(&self, global: &[&str], args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_hitl"))
            .args(global)
            .args(["aws", "--stack", STACK])
            .args(args)
            .env("AWS_ENDPOINT_URL", &self.moto.url)
            .env("AWS_ENDPOINT_URL_SFN", &self.sfn_url)
            .env("AWS_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("AWS_PROFILE")
            .env_remove("HITL_STACK")
            .env_remove("HITL_TABLE_NAME")
            .output()
            .unwrap()
    }
}

fn json_out(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The stack: table with the status index, queue, role, two functions; the state machine and
/// the API URL come in as parameters (moto's CloudFormation does not register state machines
/// with its Step Functions backend) and go out as outputs, like the real template's.
fn template() -> Value {
    let function = |name: &str| {
        json!({"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": name, "Runtime": "python3.12", "Handler": "index.h",
            "Role": {"Fn::GetAtt": ["Role", "Arn"]}, "Code": {"ZipFile": "def h(e, c):\n    return e\n"}}})
    };
    let attr = |n: &str| json!({"AttributeName": n, "AttributeType": "S"});
    json!({
        "Parameters": {
            "AgentId": {"Type": "String", "Default": ""},
            "AgentAliasId": {"Type": "String", "Default": ""},
            "StateMachine": {"Type": "String"},
            "Api": {"Type": "String"},
            "Environment": {"Type": "String", "Default": "moto"}
        },
        "Resources": {
            "WorkflowTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [attr("PK"), attr("SK"), attr("GSI1PK"), attr("GSI1SK"), attr("GSI2PK"), attr("GSI2SK")],
                "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
                "GlobalSecondaryIndexes": [{"IndexName": "GSI1",
                    "KeySchema": [{"AttributeName": "GSI1PK", "KeyType": "HASH"}, {"AttributeName": "GSI1SK", "KeyType": "RANGE"}],
                    "Projection": {"ProjectionType": "ALL"}},
                    {"IndexName": "GSI2",
                    "KeySchema": [{"AttributeName": "GSI2PK", "KeyType": "HASH"}, {"AttributeName": "GSI2SK", "KeyType": "RANGE"}],
                    "Projection": {"ProjectionType": "ALL"}}]}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}},
            "ProcessFeedbackFunction": function("hitl-moto-process-feedback"),
            "EscalateFunction": function("hitl-moto-escalate")
        },
        "Outputs": {
            "TableName": {"Value": {"Ref": "WorkflowTable"}},
            "StateMachineArn": {"Value": {"Ref": "StateMachine"}},
            "ApiUrl": {"Value": {"Ref": "Api"}},
            "OutcomesBucketName": {"Value": "hitl-moto-outcomes"}
        }
    })
}

/// One SQS operation on moto through the JSON protocol.
async fn sqs(moto_url: &str, operation: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(moto_url)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("AmazonSQS.{operation}"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-1/sqs/aws4_request, SignedHeaders=host, Signature=x",
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Receives one message from an SQS queue through moto's JSON protocol.
async fn receive_token(moto: &Moto, queue_url: &str) -> Value {
    let started = Instant::now();
    loop {
        let answer = sqs(
            &moto.url,
            "ReceiveMessage",
            json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 1}),
        )
        .await;
        if let Some(message) = answer["Messages"].get(0) {
            return serde_json::from_str(message["Body"].as_str().unwrap()).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no task token message: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn execution_status(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    until_not: &str,
) -> (String, String) {
    let started = Instant::now();
    loop {
        let d = sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .unwrap();
        let status = d.status().as_str().to_owned();
        if status != until_not || started.elapsed() > Duration::from_secs(20) {
            return (status, d.output().unwrap_or_default().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One test's environment: moto, the stack on it (table, queue, state machine, functions) and
/// the reviewer API on the stack's table.
struct Env {
    moto: Moto,
    sfn: aws_sdk_sfn::Client,
    sfn_url: String,
    store: Arc<dyn WorkflowStore>,
    table: String,
    api_url: String,
    queue_url: String,
    state_machine_arn: String,
}

/// A workflow whose execution waits on a task token (stored with the workflow).
struct Waiting {
    id: String,
    execution_arn: String,
    token: String,
}

impl Env {
    async fn new() -> Self {
        let moto = Moto::start().await;
        let sdk = moto.sdk().await;
        // Step Functions: the project's endpoint, its SQS integration a handler that posts the
        // message (with the task token) to moto's queue, as the service would.
        let sfn_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sfn_url = format!("http://{}", sfn_listener.local_addr().unwrap());
        let moto_url = moto.url.clone();
        let registry = statemachine::HandlerRegistry::new().with_fn(
            "sqs:sendMessage",
            move |input: Value, _ctx: statemachine::TaskContext| {
                let moto_url = moto_url.clone();
                async move {
                    let sent: Value = sqs(
                        &moto_url,
                        "SendMessage",
                        json!({"QueueUrl": input["QueueUrl"], "MessageBody": input["MessageBody"].to_string()}),
                    )
                    .await;
                    Ok(json!({"MessageId": sent["MessageId"]}))
                }
            },
        );
        let engine = Arc::new(
            statemachine::service::endpoint_engine(
                Arc::new(statemachine::MemoryExecutionStore::new()),
                registry,
            )
            .unwrap(),
        );
        tokio::spawn(statemachine::service::serve(sfn_listener, engine));
        let sfn = aws_sdk_sfn::Client::from_conf(
            aws_sdk_sfn::config::Builder::from(&sdk)
                .endpoint_url(&sfn_url)
                .build(),
        );

        // The API: the real reviewer router, served on loopback (its URL is a stack output).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_url = format!("http://{}", listener.local_addr().unwrap());

        // The queue the waiting task posts its token to, and the state machine.
        let created = sqs(
            &moto.url,
            "CreateQueue",
            json!({"QueueName": "review-tokens"}),
        )
        .await;
        let queue_url = created["QueueUrl"].as_str().unwrap().to_owned();
        let definition = json!({"StartAt": "WaitForFeedback", "States": {"WaitForFeedback": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token", "input.$": "$"}},
            "End": true}}});
        let state_machine_arn = sfn
            .create_state_machine()
            .name("hitl-moto-workflow")
            .role_arn("arn:aws:iam::123456789012:role/hitl-moto-sfn")
            .definition(definition.to_string())
            .send()
            .await
            .unwrap()
            .state_machine_arn()
            .to_owned();
        let cfn = aws_sdk_cloudformation::Client::new(&sdk);
        cfn.create_stack()
            .stack_name(STACK)
            .template_body(template().to_string())
            .parameters(
                aws_sdk_cloudformation::types::Parameter::builder()
                    .parameter_key("StateMachine")
                    .parameter_value(&state_machine_arn)
                    .build(),
            )
            .parameters(
                aws_sdk_cloudformation::types::Parameter::builder()
                    .parameter_key("Api")
                    .parameter_value(&api_url)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let outputs = cfn
            .describe_stacks()
            .stack_name(STACK)
            .send()
            .await
            .unwrap();
        let table = outputs.stacks()[0]
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some("TableName"))
            .and_then(|o| o.output_value())
            .unwrap()
            .to_owned();
        let store: Arc<dyn WorkflowStore> = Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &table,
        ));
        let state = hitl_api::AppState::new(
            store.clone(),
            Arc::new(hitl_aws::SfnResumer::new(sfn.clone())),
            Arc::new(hitl_domain::ports::SystemClock),
            Arc::new(hitl_api::ReviewerTokens::new(
                &hitl_api::identity::ReviewersFile::default(),
            )),
        );
        tokio::spawn(hitl_api::serve(listener, state));
        Self {
            moto,
            sfn,
            sfn_url,
            store,
            table,
            api_url,
            queue_url,
            state_machine_arn,
        }
    }

    /// `hitl --json aws --stack hitl-moto <args>`.
    fn hitl(&self, args: &[&str]) -> Output {
        self.hitl_as(&["--json"], args)
    }

    /// Starts `request_id` for subject `subject_id` with `hitl aws start` and returns its
    /// execution's ARN and the task token its waiting task posted.
    async fn start(&self, request_id: &str, subject_id: &str) -> (String, String) {
        let subject = json!({"id": subject_id, "name": "Acme Coffee"}).to_string();
        let out = self.hitl(&["start", "--request-id", request_id, "--subject", &subject]);
        let started = json_out(&out);
        assert!(out.status.success(), "{started}");
        let message = receive_token(&self.moto, &self.queue_url).await;
        assert_eq!(message["input"]["request_id"], request_id);
        (
            started["execution_arn"].as_str().unwrap().to_owned(),
            message["token"].as_str().unwrap().to_owned(),
        )
    }

    /// A started workflow awaiting review of iteration 1, its token stored as request-review
    /// stores it.
    async fn awaiting_review(&self, request_id: &str, subject_id: &str) -> Waiting {
        let (execution_arn, token) = self.start(request_id, subject_id).await;
        let id = workflow_id(request_id, subject_id);
        let wf = waiting_record(&id, &execution_arn, &token);
        self.store.create_workflow(&wf).await.unwrap();
        Waiting {
            id,
            execution_arn,
            token,
        }
    }

    /// A started workflow escalated for a review timeout, its escalation task waiting (its
    /// token stored, as the escalate function does).
    async fn escalated(&self, request_id: &str, subject_id: &str) -> Waiting {
        let (execution_arn, token) = self.start(request_id, subject_id).await;
        let id = workflow_id(request_id, subject_id);
        let mut esc = sample_workflow(&id);
        esc.execution_arn = Some(execution_arn.clone());
        let esc = rules::escalate(
            &esc,
            hitl_domain::model::EscalationReason::ReviewTimeout,
            "no reviewer decided iteration 1 within the review SLA",
            Some(TaskToken::new(token.clone())),
            chrono::Utc::now(),
        )
        .unwrap()
        .unwrap();
        self.store.create_workflow(&esc).await.unwrap();
        Waiting {
            id,
            execution_arn,
            token,
        }
    }

    /// `hitl aws feedback ID --approve --reviewer ops`, which must be applied.
    fn approve(&self, id: &str) -> Value {
        let out = self.hitl(&["feedback", id, "--approve", "--reviewer", "ops"]);
        let receipt = json_out(&out);
        assert!(out.status.success(), "{receipt}");
        receipt
    }

    /// `hitl aws feedback ID --approve --iteration 3 --reviewer ops`: an iteration the workflow
    /// never had.
    fn stale_approval(&self, id: &str) -> Output {
        self.hitl(&[
            "feedback",
            id,
            "--approve",
            "--iteration",
            "3",
            "--reviewer",
            "ops",
        ])
    }

    async fn workflow(&self, id: &str) -> Workflow {
        self.store.get_workflow(id).await.unwrap().unwrap()
    }
}

/// The record of workflow `id` awaiting review of iteration 1 on `execution_arn`'s task.
fn waiting_record(id: &str, execution_arn: &str, token: &str) -> Workflow {
    let now = chrono::Utc::now();
    let mut wf = sample_workflow(id);
    wf.execution_arn = Some(execution_arn.to_owned());
    wf.created_at = now;
    wf.updated_at = now;
    let wf = rules::record_artifact(&wf, 1, "h1", now).unwrap().unwrap();
    rules::request_review(&wf, 1, TaskToken::new(token.to_owned()), now).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that `out` exited `code` with `needle` in its error message.
fn fails_with(out: &Output, code: i32, needle: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    assert!(stderr(out).contains(needle), "{}", stderr(out));
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_every_check_of_a_healthy_stack() {
    let env = Env::new().await;
    // Everything passes; the agent is not configured.
    let out = env.hitl(&["verify"]);
    let verified = json_out(&out);
    assert!(out.status.success(), "{verified:#}");
    let verdicts: Vec<(String, String)> = verified["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            (format!("table {}", env.table), "pass".to_owned()),
            (
                "state machine hitl-moto-workflow".to_owned(),
                "pass".to_owned()
            ),
            ("function hitl-moto-escalate".to_owned(), "pass".to_owned()),
            (
                "function hitl-moto-process-feedback".to_owned(),
                "pass".to_owned()
            ),
            (format!("api {}/healthz", env.api_url), "pass".to_owned()),
            ("agent alias".to_owned(), "skip".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_fails_naming_each_broken_target() {
    let env = Env::new().await;
    let out = env.hitl(&[
        "--api-url",
        "http://127.0.0.1:9",
        "--table",
        "missing",
        "verify",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let failed: Vec<String> = json_out(&out)["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == "fail")
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(failed, ["table missing", "api http://127.0.0.1:9/healthz"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_refuses_a_bad_request_and_starts_nothing() {
    let env = Env::new().await;
    let out = env.hitl(&[
        "start",
        "--request-id",
        "bad",
        "--max-iterations",
        "0",
        "--subject",
        r#"{"id":"s1","name":"Acme"}"#,
    ]);
    fails_with(&out, 2, "--max-iterations");
    let executions = env
        .sfn
        .list_executions()
        .state_machine_arn(&env.state_machine_arn)
        .send()
        .await
        .unwrap();
    assert!(
        executions.executions().is_empty(),
        "the bad request started nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_prints_the_execution_and_its_workflows() {
    let env = Env::new().await;
    let out = env.hitl(&[
        "start",
        "--request-id",
        "req-1",
        "--subject",
        r#"{"id":"s1","name":"Acme Coffee"}"#,
    ]);
    let started = json_out(&out);
    assert!(out.status.success(), "{started}");
    assert_eq!(started["request_id"], "req-1");
    assert_eq!(
        started["workflows"][0]["workflow_id"],
        workflow_id("req-1", "s1")
    );
    assert_eq!(started["workflows"][0]["subject_id"], "s1");
    let arn = started["execution_arn"].as_str().unwrap();
    let (status, _) = execution_status(&env.sfn, arn, "").await;
    assert_eq!(status, "RUNNING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_again_is_idempotent_and_another_request_under_its_id_is_refused() {
    let env = Env::new().await;
    let (execution_arn, _) = env.start("req-1", "s1").await;
    // The same request again while it runs is idempotent (as StartExecution is); the same
    // id with a different request is refused with a message that says what to do.
    let again = env.hitl(&[
        "start",
        "--request-id",
        "req-1",
        "--subject",
        r#"{"id":"s1","name":"Acme Coffee"}"#,
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(json_out(&again)["execution_arn"], execution_arn.as_str());
    let clash = env.hitl(&[
        "start",
        "--request-id",
        "req-1",
        "--subject",
        r#"{"id":"s2","name":"Other"}"#,
    ]);
    fails_with(&clash, 2, "already started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_is_the_stored_workflow_and_its_execution_never_the_token() {
    let env = Env::new().await;
    let wf = env.awaiting_review("req-1", "s1").await;
    let out = env.hitl(&["status", &wf.id]);
    let status = json_out(&out);
    assert_eq!(status["workflow_id"], wf.id.as_str());
    assert_eq!(status["status"], "awaiting_review");
    assert_eq!(
        status["operator"]["execution_arn"],
        wf.execution_arn.as_str()
    );
    assert_eq!(status["operator"]["execution_status"], "RUNNING");
    assert!(
        !stdout(&out).contains(&wf.token),
        "status must not print the task token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_text_is_the_local_status_text() {
    let env = Env::new().await;
    let wf = env.awaiting_review("req-1", "s1").await;
    let out = env.hitl_as(&[], &["status", &wf.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("workflow   {}", wf.id)), "{text}");
    assert!(
        text.contains("status     awaiting_review   iteration 1/"),
        "{text}"
    );
    assert!(
        text.contains(&format!("execution  {} (RUNNING)", wf.execution_arn)),
        "{text}"
    );
    assert!(!text.contains(&wf.token), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_of_a_status_lists_its_workflows() {
    let env = Env::new().await;
    let wf = env.awaiting_review("req-1", "s1").await;
    let listed = json_out(&env.hitl(&["status", "--status", "awaiting_review"]));
    assert_eq!(listed["status"], "awaiting_review");
    assert_eq!(listed["workflows"][0]["workflow_id"], wf.id.as_str());
    let bad = env.hitl(&["status", "--status", "pending"]);
    fails_with(&bad, 2, "--status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_the_stacks_workflows_newest_first_and_by_status() {
    let env = Env::new().await;
    let first = env.awaiting_review("req-1", "s1").await;
    let escalated = env.escalated("req-esc", "s-esc").await;
    let later = env.awaiting_review("req-2", "s2").await;
    let all = json_out(&env.hitl(&["list"]));
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["workflow_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{all}");
    assert!(ids.contains(&escalated.id.as_str()), "{all}");
    let position = |id: &str| ids.iter().position(|i| *i == id).unwrap();
    assert!(
        position(&later.id) < position(&first.id),
        "newest first: {all}"
    );
    let waiting = json_out(&env.hitl(&["list", "--status", "escalated"]));
    assert_eq!(waiting.as_array().unwrap().len(), 1, "{waiting}");
    assert_eq!(waiting[0]["workflow_id"], escalated.id.as_str());
    assert_eq!(waiting[0]["escalation"]["reason"], "review_timeout");
    // The table, as `hitl list` prints it, and no task token in either form.
    let text = env.hitl_as(&[], &["list", "--status", "escalated"]);
    assert!(text.status.success(), "{}", stderr(&text));
    assert!(stdout(&text).contains("1 workflow(s)"), "{}", stdout(&text));
    assert!(
        stdout(&text).contains("review_timeout"),
        "{}",
        stdout(&text)
    );
    for out in [&text, &env.hitl(&["list"])] {
        assert!(!stdout(out).contains(&escalated.token));
        assert!(!stdout(out).contains(&first.token));
    }
    let bad = env.hitl(&["list", "--status", "pending"]);
    fails_with(&bad, 2, "unknown status \"pending\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_and_release_need_a_reviewer() {
    let env = Env::new().await;
    let wf = env.awaiting_review("req-1", "s1").await;
    for verb in ["claim", "release"] {
        let anonymous = env.hitl(&[verb, &wf.id]);
        fails_with(&anonymous, 2, &format!("hitl aws {verb} needs --reviewer"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_refuses_other_decisions_until_an_admin_releases_it() {
    let env = Env::new().await;
    let wf = env.awaiting_review("req-1", "s1").await;
    // ana's claim refuses the operator's decision until an admin releases it (the claim of a
    // reviewer who is away).
    let claimed = env.hitl(&["claim", &wf.id, "--reviewer", "ana"]);
    assert!(claimed.status.success(), "{claimed:?}");
    assert_eq!(json_out(&claimed)["claim"]["reviewer"], "ana");
    let viewed = json_out(&env.hitl(&["status", &wf.id]));
    assert_eq!(viewed["review"]["claim"]["reviewer"], "ana", "{viewed}");
    let blocked = env.hitl(&["feedback", &wf.id, "--approve", "--reviewer", "ops"]);
    assert_eq!(blocked.status.code(), Some(1));
    assert_eq!(
        json_out(&blocked)["receipt"]["outcome"]["reason"],
        "claimed_by_other"
    );
    let not_ops = env.hitl(&["release", &wf.id, "--reviewer", "ops"]);
    assert_eq!(not_ops.status.code(), Some(1));
    assert_eq!(json_out(&not_ops)["refused"], "claimed_by_other");
    let released = env.hitl(&["release", &wf.id, "--reviewer", "ops", "--admin"]);
    assert!(released.status.success(), "{released:?}");
    assert!(json_out(&released)["claim"].is_null());
    // Both are on the workflow's claim log, the release with the admin who made it.
    let log = json_out(&env.hitl(&["status", &wf.id]))["claim_log"].clone();
    assert_eq!(log[0]["action"], "claimed", "{log}");
    assert_eq!(log[0]["reviewer"], "ana");
    assert_eq!(log[1]["action"], "released", "{log}");
    assert_eq!(log[1]["reviewer"], "ana");
    assert_eq!(log[1]["by"], "ops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_needs_a_reviewer() {
    let env = Env::new().await;
    let wf = env.awaiting_review("req-1", "s1").await;
    // Issue 14: no silent "local-reviewer" in a production audit trail.
    let anonymous = env.hitl(&["feedback", &wf.id, "--approve"]);
    fails_with(&anonymous, 2, "needs --reviewer");
    assert!(env.workflow(&wf.id).await.decisions.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_on_a_stale_iteration_is_rejected() {
    let env = Env::new().await;
    let wf = env.awaiting_review("req-1", "s1").await;
    let out = env.stale_approval(&wf.id);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        json_out(&out)["receipt"]["outcome"]["reason"],
        "unknown_iteration"
    );
    let (status, _) = execution_status(&env.sfn, &wf.execution_arn, "").await;
    assert_eq!(status, "RUNNING", "a refusal resumes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_feedback_resumes_the_execution() {
    let env = Env::new().await;
    let wf = env.awaiting_review("req-1", "s1").await;
    let receipt = env.approve(&wf.id);
    assert_eq!(receipt["receipt"]["outcome"]["kind"], "applied");
    assert_eq!(receipt["status"], "approved", "{receipt}");
    let (sfn_status, output) = execution_status(&env.sfn, &wf.execution_arn, "RUNNING").await;
    assert_eq!(sfn_status, "SUCCEEDED");
    let output: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(output["decision"], "approve", "{output}");
    let after = json_out(&env.hitl(&["status", &wf.id]));
    assert_eq!(after["status"], "approved");
    assert_eq!(after["operator"]["execution_status"], "SUCCEEDED");
    assert_eq!(after["decisions"][0]["reviewer"], "ops");
    assert_eq!(env.workflow(&wf.id).await.status, WorkflowStatus::Approved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_text_names_the_key_to_retry_with() {
    let env = Env::new().await;
    let wf = env.awaiting_review("req-1", "s1").await;
    let out = env.hitl_as(
        &[],
        &[
            "feedback",
            &wf.id,
            "--approve",
            "--reviewer",
            "ops",
            "--key",
            "k-1",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "idempotency key: k-1 (to retry this very submission: --key k-1 --iteration 1)"
        ),
        "{text}"
    );
    assert!(
        text.contains("applied: approve on iteration 1 — workflow is now approved"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_the_printed_key_is_a_replay() {
    let env = Env::new().await;
    let wf = env.awaiting_review("req-1", "s1").await;
    let receipt = env.approve(&wf.id);
    let key = receipt["receipt"]["idempotency_key"].as_str().unwrap();
    let replay = env.hitl(&[
        "feedback",
        &wf.id,
        "--approve",
        "--reviewer",
        "ops",
        "--key",
        key,
        "--iteration",
        "1",
    ]);
    assert!(replay.status.success(), "{}", stderr(&replay));
    assert_eq!(json_out(&replay)["receipt"]["replayed"], true);
    assert_eq!(env.workflow(&wf.id).await.decisions.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_workflow_shows_where_its_envelope_is_published() {
    let env = Env::new().await;
    let wf = env.awaiting_review("req-1", "s1").await;
    env.approve(&wf.id);
    // Issue 18: the status of an approved workflow says where its envelope is published.
    let after = json_out(&env.hitl(&["status", &wf.id]));
    let subject_id = after["subject"]["id"].as_str().unwrap();
    assert_eq!(
        after["operator"]["outcome_location"],
        format!(
            "s3://hitl-moto-outcomes/metadata/moto/{subject_id}/{}.json",
            wf.id
        )
        .as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_the_applied_decision_are_all_on_record() {
    let env = Env::new().await;
    let wf = env.awaiting_review("req-1", "s1").await;
    let stale = env.stale_approval(&wf.id);
    assert_eq!(stale.status.code(), Some(1));
    assert!(env
        .hitl(&["claim", &wf.id, "--reviewer", "ana"])
        .status
        .success());
    let blocked = env.hitl(&["feedback", &wf.id, "--approve", "--reviewer", "ops"]);
    assert_eq!(blocked.status.code(), Some(1));
    assert!(env
        .hitl(&["release", &wf.id, "--reviewer", "ops", "--admin"])
        .status
        .success());
    env.approve(&wf.id);
    let trail = env.store.list_feedback(&wf.id).await.unwrap();
    let mut outcomes: Vec<String> = trail
        .iter()
        .map(|e| match &e.outcome {
            hitl_domain::model::FeedbackOutcome::Applied { status } => format!("applied:{status}"),
            hitl_domain::model::FeedbackOutcome::Rejected { reason, .. } => reason.clone(),
        })
        .collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        ["applied:approved", "claimed_by_other", "unknown_iteration"],
        "both refusals (the stale iteration, the decision against ana's claim) and the applied decision are on record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivered_decision_is_settled_in_the_outbox() {
    let env = Env::new().await;
    let wf = env.awaiting_review("req-1", "s1").await;
    env.approve(&wf.id);
    execution_status(&env.sfn, &wf.execution_arn, "RUNNING").await;
    // The outbox against the real SDK clients: the decision was settled as delivered, the
    // execution's history (GetExecutionHistory) says this decision ended the wait, and a
    // relay pass has nothing left to do.
    let stored = env.workflow(&wf.id).await;
    assert!(stored.pending_delivery().is_none());
    let key = stored.decisions[0].feedback_key.clone();
    let resumer = hitl_aws::SfnResumer::new(env.sfn.clone());
    use hitl_domain::ports::ExecutionResumer as _;
    assert_eq!(
        resumer.task_fate(&wf.execution_arn, &key).await.unwrap(),
        hitl_domain::ports::TaskFate::Delivered
    );
    assert_eq!(
        resumer
            .task_fate(&wf.execution_arn, "some-other-key")
            .await
            .unwrap(),
        hitl_domain::ports::TaskFate::TimedOut,
        "an ended execution without that decision"
    );
    let relay = env.hitl(&["reconcile"]);
    assert!(relay.status.success(), "{}", stderr(&relay));
    assert_eq!(json_out(&relay)["report"]["examined"], 0);
}

/// A resumer that cannot reach Step Functions: the decision is recorded, its delivery stays
/// pending in the outbox.
struct Unreachable;

#[async_trait::async_trait]
impl hitl_domain::ports::ExecutionResumer for Unreachable {
    async fn resume(
        &self,
        _token: &TaskToken,
        _output: &Value,
    ) -> Result<(), hitl_domain::ports::ResumeError> {
        Err(hitl_domain::ports::ResumeError::Transient(
            "connection reset".into(),
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_delivers_a_stranded_decision() {
    let env = Env::new().await;
    let wf = env.awaiting_review("req-1", "s1").await;
    // GIVEN a decision recorded while Step Functions was unreachable
    let processor = hitl_domain::feedback::FeedbackProcessor::new(
        env.store.clone(),
        Arc::new(Unreachable),
        Arc::new(hitl_domain::ports::SystemClock),
    );
    let request = hitl_domain::feedback::FeedbackRequest {
        iteration: Some(1),
        decision: Some("approve".into()),
        ..Default::default()
    };
    let who =
        hitl_domain::feedback::Reviewer::declared("ana", None, hitl_domain::model::Channel::Cli);
    assert!(processor
        .submit(&wf.id, &request, "stranded-1", &who)
        .await
        .is_err());
    assert!(env.workflow(&wf.id).await.pending_delivery().is_some());
    // WHEN the operator runs the relay on the stack
    let out = env.hitl(&["reconcile"]);
    // THEN the execution has the decision and nothing is pending
    let report = json_out(&out);
    assert!(out.status.success(), "{report} {}", stderr(&out));
    assert_eq!(report["report"]["delivered"], 1, "{report}");
    assert_eq!(report["still_pending"], 0, "{report}");
    let (sfn_status, output) = execution_status(&env.sfn, &wf.execution_arn, "RUNNING").await;
    assert_eq!(sfn_status, "SUCCEEDED");
    assert_eq!(
        serde_json::from_str::<Value>(&output).unwrap()["decision"],
        "approve"
    );
    assert!(env.workflow(&wf.id).await.pending_delivery().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_needs_by() {
    let env = Env::new().await;
    let esc = env.escalated("req-esc", "s-esc").await;
    let anonymous = env.hitl(&["resolve", &esc.id, "--abandon", "--reason", "x"]);
    fails_with(&anonymous, 2, "needs --by");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_of_an_escalated_workflow_shows_why_and_never_its_token() {
    let env = Env::new().await;
    let esc = env.escalated("req-esc", "s-esc").await;
    let shown = env.hitl(&["status", &esc.id]);
    assert_eq!(json_out(&shown)["escalation"]["reason"], "review_timeout");
    assert!(json_out(&shown)["escalation"]["resolve_by"].is_string());
    assert!(
        !stdout(&shown).contains(&esc.token),
        "status must not print the escalation's task token"
    );
    let listed = env.hitl(&["status", "--status", "escalated"]);
    assert!(!stdout(&listed).contains(&esc.token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_abandons_an_escalated_workflow_and_resumes_its_execution() {
    let env = Env::new().await;
    // Issue 16: `hitl aws resolve`, the operator twin of `hitl resolve`.
    let esc = env.escalated("req-esc", "s-esc").await;
    let out = env.hitl(&[
        "resolve",
        &esc.id,
        "--abandon",
        "--reason",
        "The brand was sold",
        "--by",
        "ops",
    ]);
    let receipt = json_out(&out);
    assert!(out.status.success(), "{receipt}");
    assert_eq!(receipt["receipt"]["decision"], "abandon");
    let (sfn_status, output) = execution_status(&env.sfn, &esc.execution_arn, "RUNNING").await;
    assert_eq!(sfn_status, "SUCCEEDED");
    let output: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(output["decision"], "abandon", "{output}");
    let esc_after = env.workflow(&esc.id).await;
    assert_eq!(esc_after.status.as_str(), "abandoned");
    assert!(
        esc_after.pending_delivery().is_none(),
        "settled as delivered"
    );
    assert!(!stdout(&out).contains(&esc.token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_prints_the_outcome_rebuilt_from_the_table() {
    let env = Env::new().await;
    let esc = env.escalated("req-esc", "s-esc").await;
    let open = env.awaiting_review("req-1", "s1").await;
    // An escalated workflow's outcome is its Workflow Finished event, byte for byte as the
    // local export builds it.
    let out = env.hitl_as(&[], &["export", &esc.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stored = env.workflow(&esc.id).await;
    let mut expected =
        serde_json::to_vec_pretty(&hitl_domain::outcome::finished_event(&stored, None).unwrap())
            .unwrap();
    expected.push(b'\n');
    assert_eq!(stdout(&out), String::from_utf8(expected.clone()).unwrap());
    let event: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(event["outcome"], "escalated");
    assert_eq!(event["reason"], "review_timeout");
    assert!(!stdout(&out).contains(&esc.token));
    // --out writes it to a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("event.json");
    let written = env.hitl(&["export", &esc.id, "--out", file.to_str().unwrap()]);
    assert!(written.status.success(), "{}", stderr(&written));
    assert_eq!(std::fs::read(&file).unwrap(), expected);
    // A workflow still in review has no outcome: refused, saying why.
    let refused = env.hitl(&["export", &open.id]);
    fails_with(&refused, 2, "is awaiting_review");
    let missing = env.hitl(&["export", "wf-missing"]);
    fails_with(
        &missing,
        2,
        "workflow wf-missing not found (see `hitl aws list`)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_pages_through_the_status_index_with_progress() {
    let env = Env::new().await;
    // One workflow approved at iteration 1, one escalation abandoned, 120 open ones.
    let approved = env.awaiting_review("req-1", "s1").await;
    env.approve(&approved.id);
    let esc = env.escalated("req-esc", "s-esc").await;
    let abandoned = env.hitl(&[
        "resolve",
        &esc.id,
        "--abandon",
        "--reason",
        "Sold",
        "--by",
        "ops",
    ]);
    assert!(abandoned.status.success(), "{}", stderr(&abandoned));
    let now = chrono::Utc::now();
    for i in 0..120 {
        let mut open = sample_workflow(&format!("wf-open-{i:03}"));
        open.created_at = now;
        open.updated_at = now + chrono::Duration::milliseconds(i);
        env.store.create_workflow(&open).await.unwrap();
    }
    let out = env.hitl(&["report", "--since", "30d"]);
    let report = json_out(&out);
    assert!(out.status.success());
    assert_eq!(report["counts"]["in_progress"], 120, "{}", report["counts"]);
    assert_eq!(report["counts"]["approved"], 1);
    assert_eq!(report["counts"]["escalated"], 1);
    assert_eq!(report["first_draft_approval"]["rate"], 0.5);
    assert_eq!(report["escalations"]["resolutions"]["abandon"], 1);
    let progress = stderr(&out);
    // One line per page: more lines than statuses means a status took more than one page.
    assert!(
        progress.matches("report: listed").count() > WorkflowStatus::ALL.len(),
        "{progress}"
    );
    assert!(
        progress.contains("report: loaded feedback of 122/122 workflows"),
        "{progress}"
    );
}

/// Every key path of a JSON document (`a.b`, `a.list[].c`).
fn key_paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let path = format!("{prefix}.{key}");
                out.insert(path.clone());
                key_paths(inner, &path, out);
            }
        }
        Value::Array(items) => {
            for inner in items {
                key_paths(inner, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

/// Issue 27: `hitl status --json` and `hitl aws status --json` are one document; for the
/// same workflow state they have the same keys, and the workflow's fields the same values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_has_the_same_shape_locally_and_on_the_stack() {
    let env = Env::new().await;
    let wf = env.awaiting_review("req-1", "s1").await;
    // The same record in a local data directory.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let runtime = hitl_cli::local::Runtime::open(Some(&data)).unwrap();
        runtime
            .store
            .create_workflow(&env.workflow(&wf.id).await)
            .await
            .unwrap();
    }
    let local_hitl = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_hitl"))
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        out
    };
    // A claim on both, so the review's claim and the claim log are in both documents.
    local_hitl(&["claim", &wf.id, "--reviewer", "ana"]);
    assert!(env
        .hitl(&["claim", &wf.id, "--reviewer", "ana"])
        .status
        .success());
    let local = json_out(&local_hitl(&["--json", "status", &wf.id]));
    let stack = json_out(&env.hitl(&["status", &wf.id]));
    let (mut local_keys, mut stack_keys) = (BTreeSet::new(), BTreeSet::new());
    key_paths(&local, "", &mut local_keys);
    key_paths(&stack, "", &mut stack_keys);
    assert!(
        local_keys.contains(".review.claim.reviewer"),
        "{local_keys:?}"
    );
    assert!(
        local_keys.contains(".operator.execution_status"),
        "{local_keys:?}"
    );
    assert_eq!(local_keys, stack_keys);
    for field in [
        "workflow_id",
        "subject",
        "status",
        "iteration",
        "max_iterations",
    ] {
        assert_eq!(local[field], stack[field], "{field}");
    }
}

/// Issue 27: `hitl start --json` and `hitl aws start --json` print one document (request,
/// execution, workflows with their status once created).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_json_has_the_same_shape_locally_and_on_the_stack() {
    let env = Env::new().await;
    let subject = r#"{"id":"s1","name":"Acme Coffee"}"#;
    let stack = json_out(&env.hitl(&["start", "--request-id", "req-1", "--subject", subject]));
    let dir = tempfile::tempdir().unwrap();
    let local_out = Command::new(env!("CARGO_BIN_EXE_hitl"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args([
            "--json",
            "start",
            "--request-id",
            "req-1",
            "--subject",
            subject,
        ])
        .output()
        .unwrap();
    let local = json_out(&local_out);
    assert_eq!(
        local["workflows"][0]["status"], "awaiting_review",
        "{local}"
    );
    let (mut local_keys, mut stack_keys) = (BTreeSet::new(), BTreeSet::new());
    key_paths(&local, "", &mut local_keys);
    key_paths(&stack, "", &mut stack_keys);
    assert!(local_keys.contains(".execution_arn"), "{local_keys:?}");
    assert!(stack_keys.contains(".workflows[].status"), "{stack_keys:?}");
    assert_eq!(local_keys, stack_keys);
    assert_eq!(
        local["workflows"][0]["workflow_id"],
        stack["workflows"][0]["workflow_id"]
    );
}
