//! Issue 30, the Slack channel: with `HITL_SLACK_WEBHOOKS` set, the local runtime posts each
//! notification to its group's Slack incoming webhook, a Block Kit message with an "Open
//! review" button to the workflow on the page. A receiver on 127.0.0.1 plays Slack: it checks
//! the payload's shape and answers as Slack does — `ok`, or 500 while it is "down" — so the
//! test also shows the notification outbox keeping a failed post and sending it later, once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use serde_json::Value;

#[derive(Default)]
struct Slack {
    /// (group in the URL, payload)
    seen: Mutex<Vec<(String, Value)>>,
    down: Mutex<bool>,
}

async fn receive(
    State(slack): State<Arc<Slack>>,
    Path(group): Path<String>,
    Json(payload): Json<Value>,
) -> (StatusCode, &'static str) {
    if *slack.down.lock().unwrap() {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    }
    // What Slack requires of a message: fallback text and well-formed blocks.
    let valid = payload["text"].as_str().is_some_and(|t| !t.is_empty())
        && payload["blocks"].as_array().is_some_and(|blocks| {
            blocks.iter().all(|b| b["type"].is_string())
                && blocks[0]["type"] == "header"
                && blocks[0]["text"]["text"]
                    .as_str()
                    .is_some_and(|t| t.chars().count() <= 150)
        });
    if !valid {
        return (StatusCode::BAD_REQUEST, "invalid_payload");
    }
    slack.seen.lock().unwrap().push((group, payload));
    (StatusCode::OK, "ok")
}

fn hitl_with(data: &std::path::Path, env: &[(String, String)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hitl"));
    command.arg("--data-dir").arg(data).args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

async fn run(data: &std::path::Path, env: &[(String, String)], args: &[&str]) -> Output {
    let (data, env) = (data.to_owned(), env.to_vec());
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        hitl_with(&data, &env, &args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_requests_and_escalations_reach_each_groups_slack_with_an_open_review_button() {
    let slack = Arc::new(Slack::default());
    let app = axum::Router::new()
        .route("/services/{group}", post(receive))
        .with_state(slack.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/services", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let env = vec![
        (
            "HITL_SLACK_WEBHOOKS".to_owned(),
            format!("reviewers={base}/rev;escalations={base}/esc"),
        ),
        (
            "HITL_REVIEW_PAGE_URL".to_owned(),
            "http://127.0.0.1:8080/".to_owned(),
        ),
    ];
    let started = run(
        &data,
        &env,
        &[
            "--json",
            "start",
            "--max-iterations",
            "1",
            "--subject",
            r#"{"id":"s1","name":"Slack <Snacks>"}"#,
        ],
    )
    .await;
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let id = serde_json::from_slice::<Value>(&started.stdout).unwrap()["workflows"][0]
        ["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    {
        let seen = slack.seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        let (group, payload) = &seen[0];
        assert_eq!(group, "rev");
        let blocks = payload["blocks"].as_array().unwrap();
        assert_eq!(
            blocks[0]["text"]["text"],
            "Review requested: Slack <Snacks>, draft 1"
        );
        assert!(
            blocks[1]["text"]["text"]
                .as_str()
                .unwrap()
                .contains("Slack &lt;Snacks&gt;"),
            "mrkdwn escaped: {payload}"
        );
        let button = &blocks.last().unwrap()["elements"][0];
        assert_eq!(button["text"]["text"], "Open review");
        assert_eq!(
            button["url"],
            format!("http://127.0.0.1:8080/#/workflows/{id}")
        );
    }

    // Slack is down when the workflow escalates (changes requested at the limit): the
    // escalation notice stays in the outbox with Slack's answer, the rest goes on.
    *slack.down.lock().unwrap() = true;
    let decided = run(
        &data,
        &env,
        &[
            "feedback",
            &id,
            "--request-changes",
            "Warmer",
            "--reviewer",
            "rita",
            "--iteration",
            "1",
        ],
    )
    .await;
    assert!(
        decided.status.success(),
        "{}",
        String::from_utf8_lossy(&decided.stderr)
    );
    let outbox = run(&data, &env, &["--json", "notifications", "--pending"]).await;
    let outbox: Value = serde_json::from_slice(&outbox.stdout).unwrap();
    let pending = &outbox["notifications"][0];
    assert_eq!(pending["id"], "escalated/1", "{outbox}");
    let slack_channel = pending["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "slack")
        .unwrap();
    assert_eq!(slack_channel["status"], "pending");
    assert!(
        slack_channel["last_error"]
            .as_str()
            .unwrap()
            .contains("Slack webhook of group escalations answered 500"),
        "{slack_channel}"
    );
    assert!(
        !slack_channel["last_error"]
            .as_str()
            .unwrap()
            .contains(&base),
        "the webhook URL is a secret"
    );
    let log_channel = pending["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "log")
        .unwrap();
    assert_eq!(log_channel["status"], "sent", "the log is not held back");

    // Back up; past the backoff the relay posts it, once.
    *slack.down.lock().unwrap() = false;
    assert!(run(&data, &env, &["advance-time", "1m"])
        .await
        .status
        .success());
    assert!(run(&data, &env, &["reconcile"]).await.status.success());
    let seen = slack.seen.lock().unwrap().clone();
    let escalations: Vec<&(String, Value)> = seen.iter().filter(|(g, _)| g == "esc").collect();
    assert_eq!(escalations.len(), 1, "{seen:?}");
    assert!(escalations[0].1["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .starts_with("Escalated: Slack <Snacks>"));
    let outbox = run(&data, &env, &["--json", "notifications", "--pending"]).await;
    let outbox: Value = serde_json::from_slice(&outbox.stdout).unwrap();
    assert_eq!(outbox["notifications"], serde_json::json!([]));
}

#[test]
fn a_webhook_url_that_is_not_https_stops_the_command_naming_the_group_not_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let out = hitl_with(
        &dir.path().join("d"),
        &[(
            "HITL_SLACK_WEBHOOKS".to_owned(),
            "reviewers=http://hooks.slack.com/services/T0/B0/s3cr3t".to_owned(),
        )],
        &["start", "--subject", r#"{"id":"s2","name":"Plain"}"#],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HITL_SLACK_WEBHOOKS") && err.contains("group reviewers"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t"), "{err}");
}
