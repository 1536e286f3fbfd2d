//! `hitl aws` against moto server (AWS emulated on 127.0.0.1): the real `hitl` binary with the
//! real SDK clients, a CloudFormation stack whose outputs and parameters name the resources,
//! a DynamoDB table with the status index, a Standard state machine waiting on a task token,
//! Lambda functions, and the real reviewer API router on the same table. Bedrock is not
//! implemented by moto; `deploy-agent` and the alias check are tested with `aws-smithy-mocks`
//! in `cli/tests/aws_agent.rs`.
//!
//! Needs `.tools/venv-moto` (installed by `scripts/setup-test-tools.sh`); a missing moto fails
//! the test, it is never skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::moto::{Moto, REGION};
use hitl_aws::dynamodb::DynamoStore;
use hitl_domain::contracts::workflow_id;
use hitl_domain::model::{TaskToken, WorkflowStatus};
use hitl_domain::rules;
use hitl_domain::store::contract::sample_workflow;
use hitl_domain::store::WorkflowStore;
use serde_json::{json, Value};

const STACK: &str = "hitl-moto";

impl Moto {
    /// Runs `hitl --json aws --stack hitl-moto <args>` against moto.
    fn hitl(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_hitl"))
            .args(["--json", "aws", "--stack", STACK])
            .args(args)
            .env("AWS_ENDPOINT_URL", &self.url)
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

/// Receives one message from an SQS queue through moto's JSON protocol.
async fn receive_token(moto: &Moto, queue_url: &str) -> Value {
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let answer: Value = http
            .post(&moto.url)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "AmazonSQS.ReceiveMessage")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-1/sqs/aws4_request, SignedHeaders=host, Signature=x",
            )
            .body(json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 1}).to_string())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hitl_aws_operates_a_stack_on_moto() {
    let moto = Moto::start().await;
    let sdk = moto.sdk().await;
    let sfn = aws_sdk_sfn::Client::new(&sdk);

    // The API: the real reviewer router, served on loopback (its URL is a stack output).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", listener.local_addr().unwrap());

    // The queue the waiting task posts its token to, and the state machine.
    let sqs_http = reqwest::Client::new();
    let created: Value = sqs_http
        .post(&moto.url)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "AmazonSQS.CreateQueue")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-1/sqs/aws4_request, SignedHeaders=host, Signature=x",
        )
        .body(json!({"QueueName": "review-tokens"}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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

    // verify: everything passes, the agent is not configured.
    let out = moto.hitl(&["verify"]);
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
            (format!("table {table}"), "pass".to_owned()),
            (
                "state machine hitl-moto-workflow".to_owned(),
                "pass".to_owned()
            ),
            ("function hitl-moto-escalate".to_owned(), "pass".to_owned()),
            (
                "function hitl-moto-process-feedback".to_owned(),
                "pass".to_owned()
            ),
            (format!("api {api_url}/healthz"), "pass".to_owned()),
            ("agent alias".to_owned(), "skip".to_owned()),
        ]
    );
    // A broken target fails the run, and the table says which.
    let out = moto.hitl(&[
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

    // start: validated locally; a bad request starts nothing.
    let out = moto.hitl(&[
        "start",
        "--request-id",
        "bad",
        "--max-iterations",
        "0",
        "--subject",
        r#"{"id":"s1","name":"Acme"}"#,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--max-iterations"), "{stderr}");
    let out = moto.hitl(&[
        "start",
        "--request-id",
        "req-1",
        "--subject",
        r#"{"id":"s1","name":"Acme Coffee"}"#,
    ]);
    let started = json_out(&out);
    assert!(out.status.success(), "{started}");
    let wf_id = workflow_id("req-1", "s1");
    assert_eq!(started["workflows"][0]["workflow_id"], wf_id);
    let execution_arn = started["execution_arn"].as_str().unwrap().to_owned();
    let executions = sfn
        .list_executions()
        .state_machine_arn(&state_machine_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        executions.executions().len(),
        1,
        "the bad request started nothing"
    );
    // The same request again while it runs is idempotent (as StartExecution is); the same
    // id with a different request is refused with a message that says what to do.
    let again = moto.hitl(&[
        "start",
        "--request-id",
        "req-1",
        "--subject",
        r#"{"id":"s1","name":"Acme Coffee"}"#,
    ]);
    assert!(again.status.success());
    assert_eq!(json_out(&again)["execution_arn"], execution_arn.as_str());
    let clash = moto.hitl(&[
        "start",
        "--request-id",
        "req-1",
        "--subject",
        r#"{"id":"s2","name":"Other"}"#,
    ]);
    assert_eq!(clash.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&clash.stderr).contains("already started"),
        "{}",
        String::from_utf8_lossy(&clash.stderr)
    );

    // The execution waits; the review task's token is stored with the workflow, as
    // request-review does.
    let message = receive_token(&moto, &queue_url).await;
    assert_eq!(message["input"]["request_id"], "req-1");
    let token = message["token"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now();
    let mut wf = sample_workflow(&wf_id);
    wf.execution_arn = Some(execution_arn.clone());
    wf.created_at = now;
    wf.updated_at = now;
    let wf = rules::record_artifact(&wf, 1, "h1", now).unwrap().unwrap();
    let wf = rules::request_review(&wf, 1, TaskToken::new(token.clone()), now).unwrap();
    store.create_workflow(&wf).await.unwrap();

    let out = moto.hitl(&["status", &wf_id]);
    let status = json_out(&out);
    assert_eq!(status["status"], "awaiting_review");
    assert_eq!(status["operator"]["execution_status"], "RUNNING");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&token),
        "status must not print the task token"
    );
    let listed = json_out(&moto.hitl(&["status", "--status", "awaiting_review"]));
    assert_eq!(listed["workflows"][0]["workflow_id"], wf_id);

    // claim / release on the stack's table: ana's claim refuses the operator's decision until
    // an admin releases it (the claim of a reviewer who is away).
    let anonymous = moto.hitl(&["claim", &wf_id]);
    assert_eq!(anonymous.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&anonymous.stderr).contains("needs --reviewer"));
    let claimed = moto.hitl(&["claim", &wf_id, "--reviewer", "ana"]);
    assert!(claimed.status.success(), "{:?}", claimed);
    assert_eq!(json_out(&claimed)["claim"]["reviewer"], "ana");
    let viewed = json_out(&moto.hitl(&["status", &wf_id]));
    assert_eq!(viewed["review"]["claim"]["reviewer"], "ana", "{viewed}");
    let blocked = moto.hitl(&["feedback", &wf_id, "--approve", "--reviewer", "ops"]);
    assert_eq!(blocked.status.code(), Some(1));
    assert_eq!(
        json_out(&blocked)["receipt"]["outcome"]["reason"],
        "claimed_by_other"
    );
    let not_ops = moto.hitl(&["release", &wf_id, "--reviewer", "ops"]);
    assert_eq!(not_ops.status.code(), Some(1));
    assert_eq!(json_out(&not_ops)["refused"], "claimed_by_other");
    let released = moto.hitl(&["release", &wf_id, "--reviewer", "ops", "--admin"]);
    assert!(released.status.success(), "{:?}", released);
    assert!(json_out(&released)["claim"].is_null());
    // Both are on the workflow's claim log, the release with the admin who made it.
    let log = json_out(&moto.hitl(&["status", &wf_id]))["claim_log"].clone();
    assert_eq!(log[0]["action"], "claimed", "{log}");
    assert_eq!(log[0]["reviewer"], "ana");
    assert_eq!(log[1]["action"], "released", "{log}");
    assert_eq!(log[1]["reviewer"], "ana");
    assert_eq!(log[1]["by"], "ops");

    // feedback: a stale iteration is refused (exit 1), the decision resumes the execution.
    let out = moto.hitl(&[
        "feedback",
        &wf_id,
        "--approve",
        "--iteration",
        "3",
        "--reviewer",
        "ops",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        json_out(&out)["receipt"]["outcome"]["reason"],
        "unknown_iteration"
    );
    // Issue 14: no silent "local-reviewer" in a production audit trail.
    let anonymous = moto.hitl(&["feedback", &wf_id, "--approve"]);
    assert_eq!(anonymous.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&anonymous.stderr).contains("needs --reviewer"));
    let out = moto.hitl(&["feedback", &wf_id, "--approve", "--reviewer", "ops"]);
    let receipt = json_out(&out);
    assert!(out.status.success(), "{receipt}");
    assert_eq!(receipt["receipt"]["outcome"]["kind"], "applied");
    let (sfn_status, output) = execution_status(&sfn, &execution_arn, "RUNNING").await;
    assert_eq!(sfn_status, "SUCCEEDED");
    let output: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(output["decision"], "approve", "{output}");
    // A retry with the key the first attempt printed is a replay.
    let key = receipt["receipt"]["idempotency_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let replay = moto.hitl(&[
        "feedback",
        &wf_id,
        "--approve",
        "--reviewer",
        "ops",
        "--key",
        &key,
        "--iteration",
        "1",
    ]);
    assert!(replay.status.success());
    assert_eq!(json_out(&replay)["receipt"]["replayed"], true);
    let after = json_out(&moto.hitl(&["status", &wf_id]));
    assert_eq!(after["operator"]["execution_status"], "SUCCEEDED");
    // Issue 18: the status of an approved workflow says where its envelope is published.
    let subject_id = after["subject"]["id"].as_str().unwrap();
    assert_eq!(
        after["operator"]["outcome_location"],
        format!("s3://hitl-moto-outcomes/metadata/moto/{subject_id}/{wf_id}.json").as_str()
    );
    assert_eq!(after["decisions"][0]["reviewer"], "ops");
    let trail = store.list_feedback(&wf_id).await.unwrap();
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
    // The outbox against the real SDK clients: the decision was settled as delivered, the
    // execution's history (GetExecutionHistory) says this decision ended the wait, and a
    // relay pass has nothing left to do.
    let stored = store.get_workflow(&wf_id).await.unwrap().unwrap();
    assert!(stored.pending_delivery().is_none());
    let key = stored.decisions[0].feedback_key.clone();
    let resumer = hitl_aws::SfnResumer::new(sfn.clone());
    use hitl_domain::ports::ExecutionResumer as _;
    assert_eq!(
        resumer.task_fate(&execution_arn, &key).await.unwrap(),
        hitl_domain::ports::TaskFate::Delivered
    );
    assert_eq!(
        resumer
            .task_fate(&execution_arn, "some-other-key")
            .await
            .unwrap(),
        hitl_domain::ports::TaskFate::TimedOut,
        "an ended execution without that decision"
    );

    // Issue 16: `hitl aws resolve`, the operator twin of `hitl resolve`: an escalated
    // workflow whose escalation task waits (its token stored, as the escalate function does)
    // is abandoned, and the execution gets the resolution.
    let out = moto.hitl(&[
        "start",
        "--request-id",
        "req-esc",
        "--subject",
        r#"{"id":"s-esc","name":"Escalated Coffee"}"#,
    ]);
    assert!(out.status.success());
    let esc_execution = json_out(&out)["execution_arn"].as_str().unwrap().to_owned();
    let esc_token = receive_token(&moto, &queue_url).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let esc_id = workflow_id("req-esc", "s-esc");
    let mut esc = sample_workflow(&esc_id);
    esc.execution_arn = Some(esc_execution.clone());
    let esc = rules::escalate(
        &esc,
        hitl_domain::model::EscalationReason::ReviewTimeout,
        "no reviewer decided iteration 1 within the review SLA",
        Some(TaskToken::new(esc_token.clone())),
        now,
    )
    .unwrap()
    .unwrap();
    store.create_workflow(&esc).await.unwrap();
    let shown = moto.hitl(&["status", &esc_id]);
    assert_eq!(json_out(&shown)["escalation"]["reason"], "review_timeout");
    assert!(json_out(&shown)["escalation"]["resolve_by"].is_string());
    assert!(
        !String::from_utf8_lossy(&shown.stdout).contains(&esc_token),
        "status must not print the escalation's task token"
    );
    let listed = moto.hitl(&["status", "--status", "escalated"]);
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(&esc_token));
    let anonymous = moto.hitl(&["resolve", &esc_id, "--abandon", "--reason", "x"]);
    assert_eq!(anonymous.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&anonymous.stderr).contains("needs --by"));
    let out = moto.hitl(&[
        "resolve",
        &esc_id,
        "--abandon",
        "--reason",
        "The brand was sold",
        "--by",
        "ops",
    ]);
    let receipt = json_out(&out);
    assert!(out.status.success(), "{receipt}");
    assert_eq!(receipt["receipt"]["decision"], "abandon");
    let (sfn_status, output) = execution_status(&sfn, &esc_execution, "RUNNING").await;
    assert_eq!(sfn_status, "SUCCEEDED");
    let output: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(output["decision"], "abandon", "{output}");
    let esc_after = store.get_workflow(&esc_id).await.unwrap().unwrap();
    assert_eq!(esc_after.status.as_str(), "abandoned");
    assert!(
        esc_after.pending_delivery().is_none(),
        "settled as delivered"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&esc_token));

    // report: through the status index, paginated (120 more workflows), with progress.
    for i in 0..120 {
        let mut open = sample_workflow(&format!("wf-open-{i:03}"));
        open.created_at = now;
        open.updated_at = now + chrono::Duration::milliseconds(i);
        store.create_workflow(&open).await.unwrap();
    }
    let out = moto.hitl(&["report", "--since", "30d"]);
    let report = json_out(&out);
    assert!(out.status.success());
    // The approved workflow completed at iteration 1, the abandoned one is an escalation
    // (resolved by abandoning it); the 120 seeded ones are open.
    assert_eq!(report["counts"]["in_progress"], 120, "{}", report["counts"]);
    assert_eq!(report["counts"]["approved"], 1);
    assert_eq!(report["counts"]["escalated"], 1);
    assert_eq!(report["first_draft_approval"]["rate"], 0.5);
    assert_eq!(report["escalations"]["resolutions"]["abandon"], 1);
    let progress = String::from_utf8_lossy(&out.stderr);
    // One line per page: more lines than statuses means a status took more than one page.
    assert!(
        progress.matches("report: listed").count() > WorkflowStatus::ALL.len(),
        "{progress}"
    );
    assert!(
        progress.contains("report: loaded feedback of 122/122 workflows"),
        "{progress}"
    );
    // What `hitl aws status` showed is the stored record: approved.
    assert_eq!(after["status"], "approved");
    assert_eq!(
        store.get_workflow(&wf_id).await.unwrap().unwrap().status,
        WorkflowStatus::Approved
    );
}
