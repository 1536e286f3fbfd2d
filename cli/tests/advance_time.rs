//! `hitl advance-time` as a discrete-event simulation, through the `hitl` binary: the virtual
//! clock stops at every reminder and every engine timer inside a jump, so each fires at its own
//! instant and in order, and the command prints everything that fired.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use common::hitl_ok;
use serde_json::Value;

fn json(data: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = hitl_ok(data, &all);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("no time in {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

/// Asserts that `at` is `expected` give or take the wall-clock time a stop takes (the virtual
/// clock runs on the wall clock under its offset; a stop takes milliseconds, the slack is for
/// a loaded machine) — hours from the end of any jump in these tests.
fn assert_near(at: DateTime<Utc>, expected: DateTime<Utc>, what: &str) {
    let off = (at - expected).num_milliseconds().abs();
    assert!(
        off < 5000,
        "{what} at {at}, expected at {expected} ({off} ms off)"
    );
}

/// Starts one workflow per subject id in one request; returns their ids.
fn start(data: &Path, ids: &[String], extra: &[&str]) -> Vec<String> {
    let subjects: Vec<Value> = ids
        .iter()
        .map(|id| serde_json::json!({"id": id, "name": format!("Subject {id}")}))
        .collect();
    let file = data.with_extension("subjects.json");
    std::fs::write(&file, Value::Array(subjects).to_string()).unwrap();
    let batch = ids.len().to_string();
    let mut args = vec![
        "start",
        "--subjects-file",
        file.to_str().unwrap(),
        "--batch-size",
        &batch,
    ];
    args.extend_from_slice(extra);
    let started = json(data, &args);
    started["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["workflow_id"].as_str().unwrap().to_owned())
        .collect()
}

fn review_deadline(data: &Path, id: &str) -> DateTime<Utc> {
    time(&json(data, &["status", id])["deadline"])
}

#[test]
fn twenty_reminders_in_one_jump_each_fire_at_their_own_instant() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ids: Vec<String> = (1..=20).map(|i| format!("brand-{i}")).collect();
    let workflows = start(&data, &ids, &[]);
    assert_eq!(workflows.len(), 20);
    let deadlines: Vec<_> = workflows
        .iter()
        .map(|w| (w.clone(), review_deadline(&data, w)))
        .collect();

    let jump = json(&data, &["advance-time", "49h30m"]);

    let sent = jump["reminders"].as_array().unwrap();
    assert_eq!(sent.len(), 20, "one 24 h reminder per workflow: {jump}");
    for (id, deadline) in &deadlines {
        let reminder = sent
            .iter()
            .find(|r| r["workflow_id"] == id.as_str())
            .unwrap_or_else(|| panic!("no reminder for {id}: {jump}"));
        assert_eq!(reminder["offset_seconds"], 86_400);
        assert_near(
            time(&reminder["sent_at"]),
            *deadline - Duration::hours(24),
            &format!("the reminder of {id}"),
        );
    }
    let times: Vec<_> = sent.iter().map(|r| time(&r["sent_at"])).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "reminders in time order: {times:?}"
    );
}

#[test]
fn a_timeout_inside_a_jump_escalates_at_its_deadline_and_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = start(&data, &["brand-1".to_owned()], &[]).remove(0);
    let deadline = review_deadline(&data, &id);

    let out = hitl_ok(&data, &["advance-time", "80h"]);

    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let escalated = lines
        .iter()
        .position(|l| l.starts_with("escalated at ") && l.contains(&id))
        .unwrap_or_else(|| panic!("the escalation is not printed:\n{text}"));
    assert!(
        lines[escalated].contains("(review_timeout)"),
        "names the cause: {}",
        lines[escalated]
    );
    let reminders: Vec<usize> = (0..lines.len())
        .filter(|i| lines[*i].contains("reminder sent at"))
        .collect();
    assert_eq!(reminders.len(), 2, "the 24 h and 1 h reminders:\n{text}");
    assert!(
        reminders.iter().all(|i| *i < escalated),
        "printed in time order:\n{text}"
    );
    // It escalated at the deadline, not at the end of the jump (8 h later).
    let log = json(&data, &["status", &id]);
    assert_eq!(log["escalation"]["reason"], "review_timeout", "{log}");
    let at = lines[escalated]
        .strip_prefix("escalated at ")
        .and_then(|rest| rest.get(..19))
        .unwrap();
    let at = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc();
    assert!(
        (at - deadline).num_seconds().abs() <= 5,
        "escalated at {at}, the deadline was {deadline}"
    );
}

#[test]
fn what_a_timeout_causes_inside_a_jump_fires_at_its_own_time_too() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Review within 2 h, else escalation with 30 h to resolve; a reminder 1 h before each.
    let id = start(
        &data,
        &["brand-1".to_owned()],
        &[
            "--review-timeout",
            "2h",
            "--escalation-timeout",
            "30h",
            "--reminders",
            "1h",
        ],
    )
    .remove(0);
    let deadline = review_deadline(&data, &id);

    let jump = json(&data, &["advance-time", "49h30m"]);

    let fired = jump["notifications"]
        .as_array()
        .unwrap_or_else(|| panic!("no notifications in {jump}"));
    let kinds: Vec<&str> = fired.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        vec![
            "review_reminder",
            "escalated",
            "resolution_reminder",
            "escalated",
            "workflow_finished"
        ],
        "{jump}"
    );
    assert_near(
        time(&fired[0]["at"]),
        deadline - Duration::hours(1),
        "the review reminder",
    );
    assert_near(time(&fired[1]["at"]), deadline, "the escalation");
    assert_near(
        time(&fired[2]["at"]),
        deadline + Duration::hours(29),
        "the resolution reminder",
    );
    assert_eq!(jump["reminders"][1]["about"], "resolution", "{jump}");
    // The escalation timed out 32 h in, inside the jump, and the workflow finished then.
    let unresolved = json(&data, &["status", &id])["escalation"]["unresolved_at"].clone();
    assert_near(
        time(&unresolved),
        deadline + Duration::hours(30),
        "the end of the escalation",
    );
    assert_eq!(fired[3]["reason"], "unresolved", "{jump}");
    for (i, what) in [
        (3, "the unresolved escalation"),
        (4, "the finished workflow's event"),
    ] {
        assert_near(time(&fired[i]["at"]), deadline + Duration::hours(30), what);
    }
}
