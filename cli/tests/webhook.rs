//! Issue 30, first channel: with `HITL_WEBHOOK_URL` and `HITL_WEBHOOK_SECRET` set, the local
//! runtime posts every review request (and escalation, reminder) to the webhook, signed, beside
//! the notification log. A real receiver on 127.0.0.1 verifies each request the way
//! docs/NOTIFICATIONS.md tells receivers to.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

const SECRET: &str = "whsec-local-0123456789";

type Seen = Arc<Mutex<Vec<(bool, Value)>>>;

async fn receive(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let verified = hitl_channels::verify(
        SECRET.as_bytes(),
        header(hitl_channels::TIMESTAMP_HEADER),
        header(hitl_channels::SIGNATURE_HEADER),
        &body,
        chrono::Utc::now(),
    )
    .is_ok();
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().push((verified, value));
    StatusCode::NO_CONTENT
}

fn hitl_with(data: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hitl"));
    command.arg("--data-dir").arg(data).args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_requests_reach_a_signed_webhook_beside_the_log() {
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route("/hitl", post(receive))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hitl", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let env = [
        ("HITL_WEBHOOK_URL", url.as_str()),
        ("HITL_WEBHOOK_SECRET", SECRET),
    ];
    let started = {
        let data = data.clone();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            hitl_with(
                &data,
                &env,
                &[
                    "--json",
                    "start",
                    "--subject",
                    r#"{"id":"w1","name":"Webhook Brand"}"#,
                ],
            )
        })
        .await
        .unwrap()
    };
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

    let seen = seen.lock().unwrap().clone();
    let requested: Vec<&(bool, Value)> = seen
        .iter()
        .filter(|(_, v)| v["kind"] == "review_requested" && v["workflow_id"] == id.as_str())
        .collect();
    assert_eq!(requested.len(), 1, "{seen:?}");
    let (verified, body) = requested[0];
    assert!(verified, "the receiver's signature check passes");
    assert_eq!(body["subject_name"], "Webhook Brand");
    assert_eq!(body["iteration"], 1);
    // The notification outbox's id: the same on every attempt.
    assert_eq!(body["delivery_id"], format!("{id}/review_requested/1"));
    // the notification log still has it too
    let log = std::fs::read_to_string(data.join("notifications.jsonl")).unwrap();
    assert!(log.contains(&id), "{log}");

    // A URL without a secret is refused before anything is started.
    let refused = hitl_with(
        &dir.path().join("other"),
        &[("HITL_WEBHOOK_URL", url.as_str())],
        &["start", "--subject", r#"{"id":"w2","name":"Unsigned"}"#],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("HITL_WEBHOOK_SECRET is not"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// `HITL_WEBHOOK_URL` as `group=url;group=url`: each notification goes to its group's URL, a
/// group without one gets none, and a bad entry is refused naming the group, not the URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_per_group_gets_only_its_groups_notifications() {
    let reviewers: Seen = Arc::default();
    let legal: Seen = Arc::default();
    let app = axum::Router::new()
        .route("/reviewers", post(receive).with_state(reviewers.clone()))
        .route("/legal", post(receive).with_state(legal.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let urls = format!("reviewers={base}/reviewers?token=T0KEN;legal={base}/legal");
    let started = {
        let (data, urls) = (data.clone(), urls.clone());
        tokio::task::spawn_blocking(move || {
            hitl_with(
                &data,
                &[
                    ("HITL_WEBHOOK_URL", urls.as_str()),
                    ("HITL_WEBHOOK_SECRET", SECRET),
                ],
                &[
                    "--json",
                    "start",
                    "--subject",
                    r#"{"id":"w3","name":"Per Group"}"#,
                ],
            )
        })
        .await
        .unwrap()
    };
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
    let to_reviewers = reviewers.lock().unwrap().clone();
    assert_eq!(to_reviewers.len(), 1, "{to_reviewers:?}");
    assert!(to_reviewers[0].0, "signed");
    assert_eq!(to_reviewers[0].1["workflow_id"], id.as_str());
    assert_eq!(to_reviewers[0].1["reviewer_group"], "reviewers");
    assert!(legal.lock().unwrap().is_empty(), "legal was not asked");

    let refused = hitl_with(
        &dir.path().join("bad"),
        &[
            (
                "HITL_WEBHOOK_URL",
                "reviewers=ftp://hooks.example.com/T0KEN",
            ),
            ("HITL_WEBHOOK_SECRET", SECRET),
        ],
        &["start", "--subject", r#"{"id":"w4","name":"Bad"}"#],
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("webhook URL of group reviewers"),
        "{stderr}"
    );
    assert!(!stderr.contains("T0KEN"), "{stderr}");
}
