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

/// Issue 14: revoking a reviewer needed a restart of `hitl serve`. `hitl reviewers rotate`
/// and `remove` now take effect on the running server at once.
#[tokio::test]
async fn rotate_and_remove_take_effect_on_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let token_of = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let old = token_of(hitl(
        &data,
        &[
            "--json",
            "reviewers",
            "add",
            "rita",
            "--groups",
            "reviewers",
        ],
    ));
    let (_served, base) = serve(&data, None);
    let http = reqwest::Client::new();
    let status = |token: String| {
        let http = http.clone();
        let url = format!("{base}/reviews");
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(old.clone()).await, 200);
    let new = token_of(hitl(&data, &["--json", "reviewers", "rotate", "rita"]));
    assert_eq!(
        status(old.clone()).await,
        401,
        "the old token stops working at once"
    );
    assert_eq!(status(new.clone()).await, 200);
    let removed = hitl(&data, &["reviewers", "remove", "rita"]);
    assert!(removed.status.success());
    assert_eq!(
        status(new).await,
        401,
        "a removed reviewer is signed out at once"
    );
    let unknown = hitl(&data, &["reviewers", "remove", "nobody"]);
    assert_eq!(unknown.status.code(), Some(2));
    let _ = json!({});
}

/// Issue 31: one client holding 300 half-sent requests took every connection slot of
/// `hitl serve`, so `/healthz` and real requests of everyone else waited for the 10 s header
/// timeout. A client now gets at most its share of the connections; the rest of its
/// connections are answered 503 at once. On loopback the whole 127.0.0.0/8 is this machine,
/// so the flood comes from 127.0.0.2 and the others from 127.0.0.1.
#[tokio::test]
async fn one_client_flooding_half_sent_requests_does_not_starve_the_others() {
    use std::time::{Duration, Instant};
    use tokio::io::AsyncWriteExt;

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
    assert!(added.status.success());
    let token = serde_json::from_slice::<Value>(&added.stdout).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_served, base) = serve(&data, None);
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();

    // 300 connections from 127.0.0.2, each with half a request head, held open.
    let mut flood = Vec::new();
    for _ in 0..300 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut stream = tokio::time::timeout(Duration::from_secs(5), socket.connect(addr))
            .await
            .expect("the listen queue takes the connection")
            .unwrap();
        // A connection the server already answered and closed may refuse the write.
        let _ = stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await;
        flood.push(stream);
    }
    // Let the server accept what it will of them.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let http = reqwest::Client::builder()
        .local_address("127.0.0.1".parse::<std::net::IpAddr>().unwrap())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let started = Instant::now();
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    let health_took = started.elapsed();
    assert_eq!(health.status(), 200);
    let started = Instant::now();
    let queue = http
        .get(format!("{base}/reviews"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let queue_took = started.elapsed();
    assert_eq!(queue.status(), 200);
    assert!(
        health_took < Duration::from_secs(1) && queue_took < Duration::from_secs(1),
        "under the flood /healthz took {health_took:?} and /reviews {queue_took:?} (the header timeout is 10 s)"
    );
    drop(flood);
}

#[test]
fn a_per_client_limit_above_the_total_is_refused_before_anything_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let out = hitl(
        &data,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--max-connections",
            "8",
            "--max-connections-per-client",
            "9",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--max-connections-per-client (9) must not exceed --max-connections (8)"),
        "{err}"
    );
    assert!(!data.exists(), "no data directory was created");
}

/// Issue 29 item 6: `GET /analytics` prices drafts at the deployment's prices (`hitl serve
/// --price`, `HITL_PRICES` on AWS), as `hitl report --price` does; without a price, no cost.
#[tokio::test]
async fn analytics_over_hitl_serve_shows_costs_at_the_configured_prices() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let added = hitl(
        &data,
        &["--json", "reviewers", "add", "anna", "--groups", "analyst"],
    );
    assert!(added.status.success());
    let token = serde_json::from_slice::<Value>(&added.stdout).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // One workflow drafted by the local generator, approved on round one.
    let smoke = hitl(
        &data,
        &["smoke", "--batch-size", "1", "--type", "brand-metadata"],
    );
    assert!(smoke.status.success());
    let http = reqwest::Client::new();
    let generators = |base: String| {
        let http = http.clone();
        let token = token.clone();
        async move {
            let r = http
                .get(format!("{base}/analytics?include_smoke=true"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()["generators"].clone()
        }
    };
    {
        let (_served, base) = serve(&data, None);
        let unpriced = generators(base).await;
        assert_eq!(unpriced[0]["generator"], "local-generator", "{unpriced}");
        assert!(unpriced[0].get("cost").is_none(), "{unpriced}");
    }
    let (_served, base) = common::serve_with(
        &data,
        None,
        &[
            "--price",
            "local-generator=1.5/2",
            "--price",
            "openai:m=1/1",
        ],
    );
    let priced = generators(base).await;
    assert_eq!(priced[0]["generator"], "local-generator", "{priced}");
    // The local generator reports no tokens: it costs nothing, and says so.
    assert_eq!(priced[0]["cost"], 0.0, "{priced}");
    assert_eq!(priced[0]["cost_per_approved"], 0.0, "{priced}");

    // A malformed price is refused before the server starts.
    let bad = hitl(&data, &["serve", "--price", "local-generator=cheap"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("expected IN/OUT prices"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
