//! The crash matrix (issue 14): the real `hitl` processes, aborted (`std::process::abort`, no
//! cleanup) at each crash point of the decision path in turn, then restarted. For every point
//! and decision: 0 decisions lost, 0 applied twice (exactly one task success carries the
//! decision's key in the execution's history), no workflow stuck (approved with a succeeded
//! execution, or awaiting review of the next iteration with a running one), and store and
//! execution agree. The points are armed through `FAILPOINTS` (hitl-domain's `failpoints`
//! feature, which only these tests enable).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{hitl, hitl_ok};
use hitl_domain::failpoints::{
    AFTER_RECORD, AFTER_RESUME, LOCAL_AFTER_QUEUED_DELIVERY, RECONCILE_BEFORE_DELIVER,
};
use serde_json::Value;

fn hitl_armed(data: &Path, point: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hitl"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("FAILPOINTS", format!("{point}=return"))
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {} / {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn start(data: &Path, request: &str) -> String {
    let out = hitl(
        data,
        &[
            "--json",
            "start",
            "--request-id",
            request,
            "--max-iterations",
            "3",
            "--subject",
            r#"{"id":"brand-c","name":"Crash Coffee","category":"food"}"#,
        ],
    );
    assert!(out.status.success());
    json(&out)["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// (task successes carrying a feedback key, last event type) of the workflow's execution.
fn deliveries(data: &Path, id: &str) -> (usize, String) {
    let events = json(&hitl(data, &["--json", "history", id]));
    let events = events.as_array().unwrap();
    let carried = events
        .iter()
        .filter(|e| {
            e["type"] == "TaskSucceeded"
                && e["details"]["output"]
                    .get("feedback_key")
                    .is_some_and(Value::is_string)
        })
        .count();
    let last = events.last().unwrap()["type"].as_str().unwrap().to_owned();
    (carried, last)
}

fn crashed(out: &Output) -> bool {
    !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("failpoint")
}

/// One cell: decide `approve` (or request changes) with the process aborted at `point`,
/// restart with `hitl reconcile`, retry the same submission as a client would, and check.
fn cell(point: &str, approve: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = start(&data, "crash");
    let decide: Vec<&str> = if approve {
        vec![
            "feedback",
            &id,
            "--approve",
            "--reviewer",
            "rita",
            "--key",
            "k-crash",
            "--iteration",
            "1",
        ]
    } else {
        vec![
            "feedback",
            &id,
            "--request-changes",
            "Warmer tagline",
            "--reviewer",
            "rita",
            "--key",
            "k-crash",
            "--iteration",
            "1",
        ]
    };
    if point == RECONCILE_BEFORE_DELIVER {
        // Leave a pending decision behind, then crash the reconciler on it.
        assert!(crashed(&hitl_armed(&data, AFTER_RECORD, &decide)));
        assert!(crashed(&hitl_armed(&data, point, &["reconcile"])));
    } else {
        assert!(
            crashed(&hitl_armed(&data, point, &decide)),
            "{point} did not fire"
        );
    }
    // Restart: the relay delivers or settles what the crash left.
    let restarted = hitl(&data, &["--json", "reconcile"]);
    assert!(
        restarted.status.success(),
        "{}",
        String::from_utf8_lossy(&restarted.stdout)
    );
    assert_eq!(json(&restarted)["still_pending"], 0);
    // The client retries with the same key: the original answer, nothing applied twice.
    let retry = hitl(&data, &decide);
    assert!(
        retry.status.success(),
        "{}",
        String::from_utf8_lossy(&retry.stderr)
    );
    let status = json(&hitl(&data, &["--json", "status", &id]));
    let applied = status["feedback"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["outcome"] == "applied")
        .count();
    let (carried, last) = deliveries(&data, &id);
    assert_eq!(applied, 1, "{point}: decisions recorded: {status}");
    assert_eq!(carried, 1, "{point}: deliveries in the execution history");
    if approve {
        assert_eq!(status["status"], "approved");
        assert_eq!(last, "ExecutionSucceeded");
    } else {
        assert_eq!(status["status"], "awaiting_review");
        assert_eq!(status["iteration"], 2);
        assert_eq!(last, "TaskSubmitted", "a live wait for iteration 2");
    }
    format!(
        "{} {}",
        status["status"].as_str().unwrap(),
        status["iteration"]
    )
}

#[test]
fn every_crash_point_loses_nothing_and_applies_nothing_twice() {
    let mut matrix = Vec::new();
    for point in [AFTER_RECORD, AFTER_RESUME, RECONCILE_BEFORE_DELIVER] {
        for approve in [true, false] {
            let outcome = cell(point, approve);
            matrix.push(format!(
                "{point:28} {:16} -> {outcome}: 0 lost, 0 applied twice",
                if approve {
                    "approve"
                } else {
                    "request_changes"
                }
            ));
        }
    }
    println!("crash matrix:\n{}", matrix.join("\n"));
}

/// The local engine's deferred path: the smoke run's synthetic reviewer decides inside an
/// engine step, its resumption is queued and delivered after the step. Abort right after a
/// queued delivery (before its marker is settled), restart, and every smoke workflow still
/// ends terminal with each decision delivered exactly once.
#[test]
fn a_crash_after_a_queued_delivery_is_reconciled_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = hitl_armed(
        &data,
        LOCAL_AFTER_QUEUED_DELIVERY,
        &["smoke", "--max-iterations", "3"],
    );
    assert!(crashed(&out), "{}", String::from_utf8_lossy(&out.stderr));
    let restarted = hitl(&data, &["--json", "reconcile"]);
    assert!(restarted.status.success());
    assert_eq!(json(&restarted)["still_pending"], 0);
    let listed = json(&hitl(&data, &["--json", "list"]));
    let workflows = listed.as_array().unwrap();
    assert!(!workflows.is_empty());
    for w in workflows {
        let id = w["workflow_id"].as_str().unwrap();
        let status = json(&hitl(&data, &["--json", "status", id]));
        assert!(
            matches!(status["status"].as_str(), Some("approved" | "resolved")),
            "{id} is stuck: {status}"
        );
        let applied = status["feedback"]
            .as_array()
            .unwrap()
            .iter()
            // An approval short of the quorum is applied but has nothing to deliver.
            .filter(|f| f["outcome"] == "applied" && f["status"] != "awaiting_review")
            .count();
        let (carried, _) = deliveries(&data, id);
        assert_eq!(
            carried, applied,
            "{id}: every applied decision delivered once"
        );
    }
}

/// The boundary between the engine's persistence and a handler's side effects: abort after
/// `request-review` recorded the review (and its task token) but before the engine committed
/// that. On restart the execution and the record must agree on the wait, so a decision
/// still reaches the execution.
#[test]
fn a_crash_between_a_handler_and_the_engine_commit_leaves_a_decidable_review() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = hitl_armed(
        &data,
        hitl_domain::failpoints::ENGINE_AFTER_CALLBACK_HANDLER,
        &[
            "start",
            "--request-id",
            "eng",
            "--subject",
            r#"{"id":"brand-e","name":"Engine Coffee"}"#,
        ],
    );
    assert!(crashed(&out), "{}", String::from_utf8_lossy(&out.stderr));
    let restarted = hitl(&data, &["--json", "reconcile"]);
    assert!(restarted.status.success());
    let listed = json(&hitl(&data, &["--json", "list"]));
    let id = listed[0]["workflow_id"].as_str().unwrap().to_owned();
    let decided = hitl(&data, &["feedback", &id, "--approve", "--reviewer", "rita"]);
    assert!(
        decided.status.success(),
        "{}",
        String::from_utf8_lossy(&decided.stdout)
    );
    let status = json(&hitl(&data, &["--json", "status", &id]));
    assert_eq!(status["status"], "approved");
    let (carried, last) = deliveries(&data, &id);
    assert_eq!(
        (carried, last.as_str()),
        (1, "ExecutionSucceeded"),
        "the execution got the decision"
    );
}

/// Issue 16: resolutions go through the same outbox. Abort `hitl resolve --extend` at each
/// crash point, restart, retry with the same key: one resolution recorded and delivered once,
/// the same execution regenerating and waiting for iteration 4's review.
#[test]
fn a_crash_while_resolving_an_escalation_loses_nothing_and_applies_nothing_twice() {
    for point in [AFTER_RECORD, AFTER_RESUME, RECONCILE_BEFORE_DELIVER] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let id = start(&data, "crash-esc");
        for round in 1..=3 {
            let comments = format!("Not yet (round {round})");
            let out = hitl(&data, &["feedback", &id, "--request-changes", &comments]);
            assert!(out.status.success());
        }
        let escalated = json(&hitl(&data, &["--json", "status", &id]));
        assert_eq!(escalated["status"], "escalated", "{escalated}");
        let resolve = ["--json", "resolve", &id, "--extend", "2", "--key", "k-res"];
        if point == RECONCILE_BEFORE_DELIVER {
            assert!(crashed(&hitl_armed(&data, AFTER_RECORD, &resolve)));
            assert!(crashed(&hitl_armed(&data, point, &["reconcile"])));
        } else {
            assert!(
                crashed(&hitl_armed(&data, point, &resolve)),
                "{point} did not fire"
            );
        }
        let restarted = hitl(&data, &["--json", "reconcile"]);
        assert!(restarted.status.success());
        assert_eq!(json(&restarted)["still_pending"], 0);
        let retry = hitl(&data, &resolve);
        assert!(
            retry.status.success(),
            "{}",
            String::from_utf8_lossy(&retry.stderr)
        );
        let answer: Value = serde_json::from_slice(
            String::from_utf8_lossy(&retry.stdout)
                .lines()
                .last()
                .unwrap()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(answer["receipt"]["replayed"], true, "{point}: {answer}");
        let status = json(&hitl(&data, &["--json", "status", &id]));
        let resolutions = status["feedback"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["decision"] == "extend" && f["outcome"] == "applied")
            .count();
        let (carried, last) = deliveries(&data, &id);
        assert_eq!(resolutions, 1, "{point}: resolutions recorded: {status}");
        // Three review decisions and the resolution, each delivered once.
        assert_eq!(carried, 4, "{point}: deliveries in the execution history");
        assert_eq!(status["status"], "awaiting_review", "{point}: {status}");
        assert_eq!(status["iteration"], 4);
        assert_eq!(
            last, "TaskSubmitted",
            "{point}: a live wait for iteration 4"
        );
    }
}

/// The review request's lines in the notification log of `data`, by delivery id.
fn review_requests_logged(data: &Path, workflow: &str) -> Vec<String> {
    std::fs::read_to_string(data.join("notifications.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["kind"] == "review_requested" && v["workflow_id"] == workflow)
        .map(|v| v["delivery_id"].as_str().unwrap_or("(none)").to_owned())
        .collect()
}

/// The notification outbox's crash matrix (issue 30): the process aborted after the review
/// request and its notification were written but before anything was sent, after the relay
/// took the channel, and after the channel accepted the message but before the record said
/// so. Then restarted, with virtual time past the writer's lease. The review request is never
/// lost; it is sent once, except after the last point, where it is sent again with the same
/// delivery id (what receivers deduplicate by) — and never a third time.
#[test]
fn a_crash_anywhere_in_the_notification_outbox_loses_nothing() {
    use hitl_domain::failpoints::{NOTIFY_AFTER_ENQUEUE, NOTIFY_AFTER_SEND, NOTIFY_POINTS};
    for point in NOTIFY_POINTS {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let start_args = [
            "--json",
            "start",
            "--request-id",
            "crash-notify",
            "--subject",
            r#"{"id":"brand-n","name":"Notify Nougat","category":"food"}"#,
        ];
        let first = if point == NOTIFY_AFTER_SEND {
            NOTIFY_AFTER_SEND
        } else {
            NOTIFY_AFTER_ENQUEUE
        };
        assert!(
            crashed(&hitl_armed(&data, first, &start_args)),
            "{first} did not fire"
        );
        let listed = json(&hitl(&data, &["--json", "list"]));
        let id = listed[0]["workflow_id"].as_str().unwrap().to_owned();
        let logged = review_requests_logged(&data, &id);
        if first == NOTIFY_AFTER_ENQUEUE {
            assert!(logged.is_empty(), "{point}: nothing sent before the crash");
        } else {
            assert_eq!(logged.len(), 1, "{point}: sent before the crash");
        }
        if point != first {
            // Past the lease, the relay takes the channel and dies before sending.
            assert!(
                crashed(&hitl_armed(&data, point, &["advance-time", "2m"])),
                "{point} did not fire"
            );
            assert!(review_requests_logged(&data, &id).is_empty(), "{point}");
        }
        // Restart past the lease (and a relay's lease): the relay sends what is pending.
        let outbox = json(&hitl(&data, &["--json", "notifications", "--pending"]));
        assert_eq!(
            outbox["notifications"].as_array().unwrap().len(),
            1,
            "{point}: the request waits in the outbox: {outbox}"
        );
        hitl_ok(&data, &["advance-time", "2m"]);
        hitl_ok(&data, &["advance-time", "5m"]);
        hitl_ok(&data, &["reconcile"]);
        let logged = review_requests_logged(&data, &id);
        let expected = if point == NOTIFY_AFTER_SEND { 2 } else { 1 };
        assert_eq!(logged.len(), expected, "{point}: {logged:?}");
        assert!(
            logged
                .iter()
                .all(|d| *d == format!("{id}/review_requested/1")),
            "{point}: one delivery id on every send: {logged:?}"
        );
        let outbox = json(&hitl(
            &data,
            &["--json", "notifications", "--workflow", &id],
        ));
        let record = &outbox["notifications"][0];
        assert_eq!(record["channels"][0]["status"], "sent", "{point}: {outbox}");
        let status = json(&hitl(&data, &["--json", "status", &id]));
        assert_eq!(status["status"], "awaiting_review", "{point}: {status}");
    }
}
