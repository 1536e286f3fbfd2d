//! `deploy-check`: starts every function `sam build` produced (the `bootstrap` in
//! `<build dir>/<LogicalId>/`) under the fake Lambda Runtime API of `fake_runtime`, with
//! `AWS_ENDPOINT_URL` pointing at a DynamoDB Local started here, hands it its fixture event and
//! checks the answer: the expected response, or — where the function needs a service that is
//! not there (SNS, S3, EventBridge, Step Functions) — the expected named error. The functions
//! that notify get Slack and the signed webhook (`HITL_NOTIFICATION_CHANNELS`, as the template's
//! `NotificationChannelsSecret` gives them) pointed at a loopback receiver here, and what they
//! post is checked: the webhook's signature, the Slack message, each naming its workflow.
//!
//! ```text
//! deploy-check --build-dir infra/.aws-sam/build [--qemu /usr/bin/qemu-aarch64-static --sysroot /usr/aarch64-linux-gnu]
//! ```
//!
//! Binaries for another architecture (the template deploys arm64) run under qemu-user with the
//! target's C library as sysroot. Exit status 1 on the first function that does not start or
//! answers otherwise; the table of outcomes is printed either way.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use hitl_bench::fake_runtime::{Event, FakeRuntime};
use hitl_bench::http_recorder::{HttpRecorder, Recorded};
use hitl_domain::store::WorkflowStore;
use serde_json::Value;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Under qemu-user a cold start of an LTO-built function takes seconds, not milliseconds.
const TIMEOUT: Duration = Duration::from_secs(90);
const TABLE: &str = "hitl-check-workflows";

/// What a function must answer to its fixture.
enum Expect {
    /// A response whose JSON satisfies the check (described for the report).
    Response(&'static str, fn(&Value) -> bool),
    /// An invocation error with this `errorType` whose message contains the text.
    Error(&'static str, &'static str),
}

struct Case {
    /// The template's logical id: the folder `sam build` writes.
    logical_id: &'static str,
    /// `functions/<crate>/fixtures/<file>`.
    fixture: &'static str,
    expect: Expect,
}

/// One case per function of the template (`scripts/check-sam-build.sh` checks the two lists
/// match), run in this order. Workflows the cases need are seeded first (`seed`).
const CASES: &[Case] = &[
    Case {
        logical_id: "InitWorkflowFunction",
        fixture: "init-workflow/fixtures/plan-smoke.json",
        expect: Expect::Response("a plan of smoke workflows", |v| {
            v["items"].as_array().is_some_and(|items| {
                !items.is_empty()
                    && items
                        .iter()
                        .all(|i| i["request_id"] == "exec-smoke-1" && i["smoke"].is_string())
            })
        }),
    },
    Case {
        logical_id: "GenerateMetadataFunction",
        fixture: "generate-metadata/fixtures/generate.json",
        expect: Expect::Response("iteration 1 drafted (deterministic generator)", |v| {
            v["workflow_id"] == "wf-gen"
                && v["iteration"] == 1
                && v["artifact_hash"].as_str().is_some_and(|h| h.len() == 64)
        }),
    },
    Case {
        logical_id: "RequestReviewFunction",
        fixture: "request-review/fixtures/request-review.json",
        // No SNS here: the review is requested and its notification, written with it, waits
        // in the outbox for ReconcileDeliveries' relay.
        expect: Expect::Response(
            "review requested; its notification waits in the outbox",
            |v| v["workflow_id"] == "wf-review" && v["iteration"] == 1 && v["deadline"].is_string(),
        ),
    },
    Case {
        logical_id: "ProcessFeedbackFunction",
        fixture: "process-feedback/fixtures/approve.json",
        // The decision is recorded with its delivery marker, then resuming fails (no Step
        // Functions): the outbox keeps it for ReconcileDeliveries, which runs later.
        expect: Expect::Error("ResumeFailed", ""),
    },
    Case {
        logical_id: "IterationCheckFunction",
        fixture: "iteration-check/fixtures/iteration-check.json",
        expect: Expect::Response("regenerate iteration 2", |v| {
            v["action"] == "regenerate" && v["next_iteration"] == 2
        }),
    },
    Case {
        logical_id: "EscalateFunction",
        fixture: "escalate/fixtures/escalate.json",
        // No SNS here: escalated, the notice waits in the outbox (as for RequestReview).
        expect: Expect::Response("escalated; its notice waits in the outbox", |v| {
            v["workflow_id"] == "wf-esc" && v["status"] == "escalated"
        }),
    },
    Case {
        logical_id: "FinalizeFunction",
        fixture: "finalize/fixtures/record-failure.json",
        expect: Expect::Response("the failure recorded", |v| v["status"] == "failed"),
    },
    Case {
        logical_id: "FeedbackApiFunction",
        fixture: "feedback-api/fixtures/get-page.json",
        expect: Expect::Response("200 with the review page", |v| {
            v["statusCode"] == 200 && v["body"].as_str().is_some_and(|b| b.contains("<html"))
        }),
    },
    Case {
        logical_id: "FeedbackQueueFunction",
        fixture: "feedback-queue/fixtures/batch.json",
        expect: Expect::Response("a partial-batch answer naming failed messages", |v| {
            v["batchItemFailures"].is_array()
        }),
    },
    Case {
        logical_id: "ReconcileDeliveriesFunction",
        fixture: "reconcile-deliveries/fixtures/schedule.json",
        // Finds exactly the decision ProcessFeedback left in the outbox; it stays pending.
        expect: Expect::Error(
            "ResumeFailed",
            "1 of 1 pending deliveries failed transiently",
        ),
    },
    Case {
        logical_id: "PublishOutcomeFunction",
        fixture: "publish-outcome/fixtures/publish.json",
        expect: Expect::Error("PublishFailed", ""),
    },
];

struct Options {
    build_dir: PathBuf,
    qemu: Option<PathBuf>,
    sysroot: Option<PathBuf>,
    only: Vec<String>,
}

fn parse_args() -> Result<Options> {
    let mut options = Options {
        build_dir: PathBuf::new(),
        qemu: None,
        sysroot: None,
        only: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| anyhow!("{name} needs a value"));
        match arg.as_str() {
            "--build-dir" => options.build_dir = value("--build-dir")?.into(),
            "--qemu" => options.qemu = Some(value("--qemu")?.into()),
            "--sysroot" => options.sysroot = Some(value("--sysroot")?.into()),
            "--list" => {
                for case in CASES {
                    println!("{}", case.logical_id);
                }
                std::process::exit(0);
            }
            other if !other.starts_with('-') => options.only.push(other.to_owned()),
            other => bail!("unknown argument {other}"),
        }
    }
    ensure!(
        !options.build_dir.as_os_str().is_empty(),
        "usage: deploy-check --build-dir DIR [--qemu PATH --sysroot DIR] [LogicalId…] | --list"
    );
    Ok(options)
}

fn environment(endpoint: &str, home: &Path, channels: &str) -> Vec<(String, String)> {
    let region = hitl_bench::REGION;
    let account = "000000000000";
    [
        ("PATH", "/usr/bin:/bin".to_owned()),
        ("HOME", home.display().to_string()),
        ("LANG", "C.UTF-8".into()),
        ("AWS_ENDPOINT_URL", endpoint.into()),
        ("AWS_ACCESS_KEY_ID", hitl_bench::ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", hitl_bench::SECRET_KEY.into()),
        ("AWS_REGION", region.into()),
        ("AWS_DEFAULT_REGION", region.into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        // Fail fast where the service is absent: the SDK would otherwise retry 3 times.
        ("AWS_MAX_ATTEMPTS", "1".into()),
        ("AWS_LAMBDA_FUNCTION_NAME", "deploy-check".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/deploy-check".into(),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/28/[$LATEST]check".into(),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
        // The template's variables (each function reads only its own).
        ("HITL_TABLE_NAME", TABLE.into()),
        ("HITL_ENVIRONMENT", "check".into()),
        (
            "HITL_REVIEW_TOPIC_ARN",
            format!("arn:aws:sns:{region}:{account}:hitl-check-review-requests"),
        ),
        (
            "HITL_ESCALATION_TOPIC_ARN",
            format!("arn:aws:sns:{region}:{account}:hitl-check-escalations"),
        ),
        ("HITL_OUTCOMES_BUCKET", "hitl-check-outcomes".into()),
        ("HITL_EVENT_BUS_NAME", "hitl-check".into()),
        ("HITL_GROUPS_CLAIM", "cognito:groups".into()),
        ("HITL_NAME_CLAIM", "email".into()),
        (
            "HITL_CURSOR_KEY",
            "deploy-check-cursor-key-material-32b".into(),
        ),
        ("HITL_AGENT_ID", String::new()),
        ("HITL_AGENT_ALIAS_ID", String::new()),
        ("HITL_NOTIFICATION_CHANNELS", channels.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A workflow whose first draft waits for its review (iteration 1, no decision yet).
fn awaiting_first_review(id: &str) -> hitl_domain::model::Workflow {
    let mut workflow = hitl_bench::fixtures::awaiting_review(id);
    workflow.iteration = 1;
    workflow.artifact_iteration = 1;
    workflow.decisions.clear();
    if let Some(pending) = workflow.pending_review.as_mut() {
        let now = chrono::Utc::now();
        pending.iteration = 1;
        pending.requested_at = now - chrono::Duration::hours(1);
        pending.deadline = now + chrono::Duration::hours(24);
    }
    workflow
}

/// A workflow that finished approved: what `PublishOutcome` announces.
fn approved(id: &str) -> hitl_domain::model::Workflow {
    let mut workflow = hitl_bench::fixtures::revising(id);
    workflow.status = hitl_domain::model::WorkflowStatus::Approved;
    workflow.completed_at = Some(workflow.updated_at);
    for decision in &mut workflow.decisions {
        decision.decision = hitl_domain::model::Decision::Approve;
    }
    workflow
}

/// The workflows the fixtures refer to, in the states their functions expect.
async fn seed(store: &dyn WorkflowStore) -> Result<()> {
    use hitl_bench::fixtures::revising;
    for workflow in [
        // Iteration 1 in progress: a draft can be generated, a review requested, a reviewed
        // iteration checked.
        revising("wf-gen"),
        revising("wf-review"),
        revising("wf-it"),
        awaiting_first_review("wf-fb"),
        awaiting_first_review("wf-esc"),
        awaiting_first_review("wf-fin"),
        approved("wf-pub"),
    ] {
        store
            .create_workflow(&workflow)
            .await
            .with_context(|| format!("seeding {}", workflow.id))?;
    }
    // The approved workflow's final draft (valid against the metadata schema).
    let content = serde_json::json!({
        "name": "Acme Outdoor",
        "tagline": "Gear for every trail",
        "description": "Acme Outdoor makes durable gear for hikers and campers.",
        "category": "apparel",
        "tone": "friendly",
        "target_audience": "hikers",
        "keywords": ["outdoor", "gear", "hiking"],
        "colors": {"primary": "#1A2B3C", "secondary": "#FFFFFF"}
    });
    ensure!(
        hitl_domain::metadata::validate(&content).is_empty(),
        "the seeded draft must be valid"
    );
    let artifact = hitl_domain::model::Artifact {
        iteration: 1,
        hash: hitl_domain::metadata::content_hash(&content),
        content,
        generator: "deploy-check".into(),
        created_at: chrono::Utc::now(),
        usage: None,
    };
    store.put_artifact("wf-pub", &artifact).await?;
    Ok(())
}

struct Outcome {
    init_ms: f64,
    answer_ms: f64,
    summary: String,
}

fn outcome(events: &[Event], id: &str) -> Option<Result<Value, (String, String)>> {
    events.iter().find_map(|e| match e {
        Event::Response { id: got, body, .. } if got == id => {
            Some(serde_json::from_slice(body).map_err(|e| {
                (
                    "NotJson".to_owned(),
                    format!("{e}: {}", String::from_utf8_lossy(body)),
                )
            }))
        }
        Event::Error { id: got, body, .. } if got == id => {
            let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            Some(Err((
                value["errorType"].as_str().unwrap_or("?").to_owned(),
                value["errorMessage"].as_str().unwrap_or("").to_owned(),
            )))
        }
        Event::InitError { body, .. } => Some(Err((
            "InitError".to_owned(),
            String::from_utf8_lossy(body).into_owned(),
        ))),
        _ => None,
    })
}

/// Waits for `found` in short slices, so that a process that exits early is reported at once.
fn wait_or_exit<T>(
    runtime: &FakeRuntime,
    child: &mut Child,
    what: &str,
    found: impl Fn(&[Event]) -> Option<T>,
) -> Result<T> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(value) = runtime.wait_for(Duration::from_millis(250), &found) {
            return Ok(value);
        }
        if let Some(status) = child.try_wait()? {
            bail!("the process exited ({status}) before {what}");
        }
        ensure!(Instant::now() < deadline, "no {what} within {TIMEOUT:?}");
    }
}

fn run_case(case: &Case, options: &Options, env: &[(String, String)]) -> Result<Outcome> {
    let bootstrap = options.build_dir.join(case.logical_id).join("bootstrap");
    ensure!(bootstrap.is_file(), "{} is missing", bootstrap.display());
    let fixture = hitl_bench::workspace_root()
        .join("functions")
        .join(case.fixture);
    let event =
        std::fs::read(&fixture).with_context(|| format!("reading {}", fixture.display()))?;
    let runtime = FakeRuntime::start()?;
    let id = runtime.push(event);
    let mut command = match &options.qemu {
        Some(qemu) => {
            let mut c = Command::new(qemu);
            if let Some(sysroot) = &options.sysroot {
                c.arg("-L").arg(sysroot);
            }
            c.arg(&bootstrap);
            c
        }
        None => Command::new(&bootstrap),
    };
    command
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", runtime.address())
        .current_dir(options.build_dir.join(case.logical_id))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", bootstrap.display()))?;
    let result = (|| -> Result<Outcome> {
        let first_next = wait_or_exit(&runtime, &mut child, "asking for an event", |events| {
            events.iter().find_map(|e| match e {
                Event::NextRequested(at) => Some(*at),
                _ => None,
            })
        })?;
        let answer = wait_or_exit(&runtime, &mut child, "answering the fixture", |events| {
            outcome(events, &id)
        })?;
        let answered = Instant::now();
        let summary = match (&case.expect, answer) {
            (Expect::Response(what, check), Ok(value)) => {
                ensure!(check(&value), "expected {what}, got response {value}");
                format!("response: {what}")
            }
            (Expect::Error(expected, text), Err((kind, message))) => {
                ensure!(
                    kind == *expected && message.contains(text),
                    "expected error {expected} ({text:?}), got {kind}: {message}"
                );
                format!("error {kind} (as expected without that service)")
            }
            (Expect::Response(what, _), Err((kind, message))) => {
                bail!("expected {what}, got error {kind}: {message}")
            }
            (Expect::Error(expected, _), Ok(value)) => {
                bail!("expected error {expected}, got response {value}")
            }
        };
        Ok(Outcome {
            init_ms: first_next.saturating_duration_since(started).as_secs_f64() * 1e3,
            answer_ms: answered.saturating_duration_since(first_next).as_secs_f64() * 1e3,
            summary,
        })
    })();
    let _ = child.kill();
    let output = child.wait_with_output();
    runtime.shutdown();
    result.map_err(|e| {
        let stderr = output
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .unwrap_or_default();
        anyhow!(
            "{}: {e}\n  stderr: {}",
            case.logical_id,
            stderr.chars().take(3000).collect::<String>()
        )
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut options = parse_args()?;
    // The functions run in their own folders: the build dir must not be relative.
    options.build_dir = options
        .build_dir
        .canonicalize()
        .with_context(|| format!("{}", options.build_dir.display()))?;
    let local = hitl_bench::fixtures::DynamoDbLocal::start()?;
    let sdk = hitl_bench::fixtures::local_sdk_config(&local.endpoint).await;
    let store = hitl_bench::fixtures::dynamo_table(&sdk, TABLE, None).await?;
    seed(&store).await?;
    let home = tempfile_dir()?;
    let receiver = HttpRecorder::start()?;
    let env = environment(&local.endpoint, &home, &channel_settings(&receiver));

    let mut failures = Vec::new();
    for case in CASES
        .iter()
        .filter(|c| options.only.is_empty() || options.only.iter().any(|o| o == c.logical_id))
    {
        match run_case(case, &options, &env) {
            Ok(o) => println!(
                "{:<28} ok   init {:>7.0} ms, answer {:>7.0} ms  {}",
                case.logical_id, o.init_ms, o.answer_ms, o.summary
            ),
            Err(e) => {
                println!("{:<28} FAIL {e:#}", case.logical_id);
                failures.push(case.logical_id);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&home);
    // What the notifying functions posted to Slack and the webhook.
    for (logical_id, workflow, kind, group) in CHANNEL_CHECKS {
        let ran = options.only.is_empty() || options.only.iter().any(|o| o == logical_id);
        if !ran || failures.contains(&logical_id) {
            continue;
        }
        match check_channels(&receiver.requests(), workflow, kind, group) {
            Ok(summary) => println!("{logical_id:<28} ok   {summary}"),
            Err(e) => {
                println!("{logical_id:<28} FAIL {e:#}");
                failures.push(logical_id);
            }
        }
    }
    ensure!(
        failures.is_empty(),
        "{} function(s) failed: {}",
        failures.len(),
        failures.join(", ")
    );
    println!("deploy-check: all functions started and answered as expected");
    Ok(())
}

/// The webhook's signing secret in this check.
const WEBHOOK_SECRET: &str = "deploy-check-webhook-secret-0123456789";

/// Function, workflow, notification kind and group whose Slack message and webhook post the
/// check expects (the fixtures' workflows, default groups).
const CHANNEL_CHECKS: [(&str, &str, &str, &str); 2] = [
    (
        "RequestReviewFunction",
        "wf-review",
        "review_requested",
        "reviewers",
    ),
    ("EscalateFunction", "wf-esc", "escalated", "escalations"),
];

/// `HITL_NOTIFICATION_CHANNELS` pointing Slack (both default groups) and the webhook at the
/// receiver.
fn channel_settings(receiver: &HttpRecorder) -> String {
    serde_json::json!({
        "slack_webhooks": {
            "reviewers": receiver.url("/slack/reviewers"),
            "escalations": receiver.url("/slack/escalations"),
        },
        "webhook_url": receiver.url("/webhook"),
        "webhook_secret": WEBHOOK_SECRET,
    })
    .to_string()
}

/// The webhook post about `workflow` (`kind`) carries a valid signature and the delivery id
/// header, and the Slack webhook of `group` got a Block Kit message about it with the same id.
fn check_channels(
    requests: &[Recorded],
    workflow: &str,
    kind: &str,
    group: &str,
) -> Result<String> {
    let webhook = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/webhook")
        .find(|r| {
            serde_json::from_slice::<Value>(&r.body)
                .is_ok_and(|b| b["workflow_id"] == workflow && b["kind"] == kind)
        })
        .ok_or_else(|| anyhow!("no webhook post about {workflow} ({kind})"))?;
    hitl_channels::verify(
        WEBHOOK_SECRET.as_bytes(),
        webhook.header(hitl_channels::TIMESTAMP_HEADER),
        webhook.header(hitl_channels::SIGNATURE_HEADER),
        &webhook.body,
        chrono::Utc::now(),
    )
    .map_err(|e| anyhow!("the webhook post about {workflow} does not verify: {e}"))?;
    let delivery = webhook
        .header(hitl_channels::DELIVERY_HEADER)
        .ok_or_else(|| anyhow!("the webhook post about {workflow} has no delivery id"))?;
    ensure!(
        delivery.starts_with(&format!("{workflow}/{kind}/")),
        "the webhook's delivery id {delivery:?} is not the outbox record's"
    );
    let slack_path = format!("/slack/{group}");
    let slack = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path == slack_path)
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .find(|m| m.to_string().contains(delivery))
        .ok_or_else(|| anyhow!("no Slack message to {group} naming delivery {delivery}"))?;
    ensure!(
        slack["blocks"].as_array().is_some_and(|b| !b.is_empty()) && slack["text"].is_string(),
        "the Slack message about {workflow} is not Block Kit with a fallback text: {slack}"
    );
    Ok(format!(
        "webhook post signed and verified, Slack message to {group} (delivery {delivery})"
    ))
}

/// A private HOME for the functions (nothing of the caller's ~/.aws may leak in).
fn tempfile_dir() -> Result<PathBuf> {
    let dir = hitl_bench::out_dir().join(format!("deploy-check-home-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
