//! `hitl serve` end to end over real HTTP: a reviewer added with `hitl reviewers add` signs in
//! with the bearer token, sees the queue, approves, and the execution finishes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{hitl, serve};
use serde_json::{json, Value};

#[tokio::test]
async fn a_reviewer_approves_through_hitl_serve() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let added = hitl(
        &data,
        &[
            "--json",
            "reviewers",
            "add",
            "rita",
            "--groups",
            "reviewers",
        ],
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let token = serde_json::from_slice::<Value>(&added.stdout).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let reviewers = std::fs::read_to_string(data.join("reviewers.json")).unwrap();
    assert!(
        !reviewers.contains(&token),
        "the token must be stored hashed"
    );

    let started = hitl(
        &data,
        &[
            "--json",
            "start",
            "--request-id",
            "srv",
            "--subject",
            r#"{"id":"s1","name":"Served Brand"}"#,
        ],
    );
    let id = serde_json::from_slice::<Value>(&started.stdout).unwrap()["workflows"][0]
        ["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (_served, base) = serve(&data, None);

    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(format!("{base}/reviews"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let queue: Value = http
        .get(format!("{base}/reviews"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(queue.to_string().contains(&id), "{queue}");

    let response = http
        .post(format!("{base}/workflows/{id}/feedback"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "srv-approve-1")
        .json(&json!({"iteration": 1, "decision": "approve", "comments": "ship it"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(!body.to_lowercase().contains("task_token"), "{body}");

    let status: Value =
        serde_json::from_slice(&hitl(&data, &["--json", "status", &id]).stdout).unwrap();
    assert_eq!(status["status"], "approved");
    let history = String::from_utf8_lossy(&hitl(&data, &["history", &id]).stdout).into_owned();
    assert!(history.contains("WorkflowApproved"), "{history}");
}
