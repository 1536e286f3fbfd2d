//! Escalation as a human task, end to end on the real definition and the local engine, through
//! the `hitl` binary: an escalated workflow waits for a resolution by the escalation group, and
//! `hitl resolve` resolves, extends, reassigns or abandons it — in the same execution.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::{hitl, hitl_ok};
use serde_json::Value;

fn json_of(o: &Output) -> Value {
    let text = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {text} / {}",
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// Starts one workflow with `max_iterations` 1 and rejects its first draft: it escalates at
/// the iteration limit. Returns the workflow id.
fn escalated_workflow(data: &Path, request: &str) -> String {
    escalated_after(data, request, 1)
}

/// Starts one workflow with `max_iterations` = `rounds` and rejects every draft (with new
/// comments each time): it escalates at the iteration limit.
fn escalated_after(data: &Path, request: &str, rounds: u32) -> String {
    let max = rounds.to_string();
    let started = hitl_ok(
        data,
        &[
            "--json",
            "start",
            "--request-id",
            request,
            "--max-iterations",
            &max,
            "--subject",
            r#"{"id":"brand-1","name":"Alpha Roasters","category":"food"}"#,
        ],
    );
    let id = json_of(&started)["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for round in 1..=rounds {
        hitl_ok(
            data,
            &[
                "feedback",
                &id,
                "--request-changes",
                &format!("Not on brand yet (round {round})"),
            ],
        );
    }
    let status = status(data, &id);
    assert_eq!(status["status"], "escalated", "{status}");
    assert_eq!(status["escalation"]["reason"], "iteration_limit");
    assert!(
        status["escalation"]["resolve_by"].is_string(),
        "an escalation waits for a resolution: {status}"
    );
    assert!(
        !status.to_string().contains("token"),
        "no task token in the status: {status}"
    );
    id
}

fn status(data: &Path, id: &str) -> Value {
    json_of(&hitl_ok(data, &["--json", "status", id]))
}

fn resolve(data: &Path, id: &str, args: &[&str]) -> Output {
    let mut all = vec!["--json", "resolve", id];
    all.extend_from_slice(args);
    hitl(data, &all)
}

/// `(started executions, history)` of the workflow's execution.
fn history(data: &Path, id: &str) -> (usize, String) {
    let out = hitl_ok(data, &["history", id]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (text.matches("ExecutionStarted").count(), text)
}

#[test]
fn extend_continues_the_same_execution_to_an_approval() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = escalated_workflow(&data, "esc-extend");
    let out = resolve(
        &data,
        &id,
        &["--extend", "2", "--guidance", "Make the tagline playful"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer = json_of(&out);
    assert_eq!(answer["receipt"]["outcome"]["kind"], "applied", "{answer}");
    assert_eq!(answer["status"], "awaiting_review", "{answer}");
    assert_eq!(
        (
            answer["iteration"].as_u64(),
            answer["max_iterations"].as_u64()
        ),
        (Some(2), Some(3))
    );
    // The guidance reached the audit trail the agent reads.
    let s = status(&data, &id);
    let trail = s["feedback"].as_array().unwrap();
    let extend = trail.iter().find(|e| e["decision"] == "extend").unwrap();
    assert_eq!(extend["comments"], "Make the tagline playful");
    assert_eq!(extend["resolution"]["extra_iterations"], 2);

    hitl_ok(&data, &["feedback", &id, "--approve"]);
    let s = status(&data, &id);
    assert_eq!(
        (s["status"].as_str(), s["iteration"].as_u64()),
        (Some("approved"), Some(2))
    );
    let (executions, text) = history(&data, &id);
    assert_eq!(executions, 1, "one execution carried on: {text}");
    for state in [
        "Escalation",
        "ResolutionDecision",
        "ExtendIterations",
        "MetadataRegeneration",
        "WorkflowApproved",
    ] {
        assert!(
            text.contains(state),
            "{state} missing from the history: {text}"
        );
    }
}

#[test]
fn resolve_with_corrections_ends_resolved_with_a_person_authored_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = escalated_workflow(&data, "esc-resolve");
    // A correction that breaks the schema is refused with the field named, and changes nothing.
    let bad = resolve(&data, &id, &["--correction", "colors.primary=teal"]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("--correction colors.primary: "), "{stderr}");
    assert_eq!(status(&data, &id)["status"], "escalated");

    let out = resolve(
        &data,
        &id,
        &[
            "--correction",
            "tagline=Roasted for early risers",
            "--by",
            "olga",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out)["status"], "resolved");
    let s = status(&data, &id);
    assert_eq!(s["status"], "resolved");
    assert_eq!(
        s["artifact"]["content"]["tagline"],
        "Roasted for early risers"
    );
    // The rest of the draft is kept as it was.
    assert_eq!(s["artifact"]["content"]["name"], "Alpha Roasters");
    let (executions, text) = history(&data, &id);
    assert_eq!(executions, 1);
    assert!(text.contains("WorkflowResolved"), "{text}");

    // The outcome: an envelope with the person's artifact, and a `resolved` event.
    let export = hitl_ok(&data, &["export", &id]);
    let envelope: Value = serde_json::from_slice(&export.stdout).unwrap();
    assert_eq!(envelope["outcome"], "resolved", "{envelope}");
    assert_eq!(envelope["generator"], "person:olga");
    assert_eq!(envelope["approved_by"], "olga");
    assert_eq!(envelope["artifact"]["tagline"], "Roasted for early risers");

    // A second resolution is refused with a specific reason and exits non-zero.
    let again = resolve(&data, &id, &["--abandon", "--reason", "changed my mind"]);
    assert!(!again.status.success());
    assert_eq!(
        json_of(&again)["receipt"]["outcome"]["reason"],
        "already_resolved"
    );
    assert_eq!(status(&data, &id)["status"], "resolved");
}

#[test]
fn reassign_hands_the_draft_to_another_group_that_approves_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = escalated_workflow(&data, "esc-reassign");
    let out = resolve(
        &data,
        &id,
        &["--reassign", "brand-leads", "--review-timeout", "24h"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer = json_of(&out);
    assert_eq!(answer["status"], "awaiting_review", "{answer}");
    assert_eq!(answer["reviewer_group"], "brand-leads");
    assert_eq!(answer["iteration"], 1, "the same draft is reviewed again");
    // The earlier request for changes on iteration 1 does not block the new group's decision.
    hitl_ok(
        &data,
        &["feedback", &id, "--approve", "--reviewer", "lead-lea"],
    );
    let s = status(&data, &id);
    assert_eq!(
        (s["status"].as_str(), s["iteration"].as_u64()),
        (Some("approved"), Some(1))
    );
    let (executions, text) = history(&data, &id);
    assert_eq!(executions, 1);
    assert!(text.contains("ReassignReview"), "{text}");
}

#[test]
fn abandon_ends_the_workflow_and_a_resolution_needs_an_escalation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Not escalated: refused with a specific reason.
    let started = hitl_ok(
        &data,
        &[
            "--json",
            "start",
            "--request-id",
            "esc-none",
            "--subject",
            r#"{"id":"b2","name":"Beta"}"#,
        ],
    );
    let waiting = json_of(&started)["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = resolve(&data, &waiting, &["--abandon", "--reason", "no"]);
    assert!(!refused.status.success());
    assert_eq!(
        json_of(&refused)["receipt"]["outcome"]["reason"],
        "not_escalated"
    );
    assert_eq!(status(&data, &waiting)["status"], "awaiting_review");

    let id = escalated_workflow(&data, "esc-abandon");
    // --abandon needs a reason.
    let no_reason = hitl(&data, &["resolve", &id, "--abandon"]);
    assert!(!no_reason.status.success());
    let out = resolve(
        &data,
        &id,
        &["--abandon", "--reason", "The brand was discontinued"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out)["status"], "abandoned");
    let (executions, text) = history(&data, &id);
    assert_eq!(executions, 1);
    assert!(text.contains("ExecutionSucceeded"), "{text}");
    let listed = json_of(&hitl_ok(
        &data,
        &["--json", "list", "--status", "abandoned"],
    ));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}

#[test]
fn an_escalation_left_past_its_sla_ends_unresolved() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = escalated_workflow(&data, "esc-expire");
    let listed = hitl_ok(&data, &["list", "--status", "escalated"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("iteration_limit (waiting"), "{text}");

    hitl_ok(&data, &["advance-time", "8d"]);
    let s = status(&data, &id);
    assert_eq!(s["status"], "escalated");
    assert!(s["escalation"]["unresolved_at"].is_string(), "{s}");
    assert!(s["escalation"]["resolve_by"].is_null(), "{s}");
    let (_, history_text) = history(&data, &id);
    assert!(
        history_text.contains("EscalationUnresolved"),
        "{history_text}"
    );
    assert!(history_text.contains("WorkflowEscalated"), "{history_text}");

    let late = resolve(&data, &id, &["--extend", "1"]);
    assert!(!late.status.success());
    assert_eq!(
        json_of(&late)["receipt"]["outcome"]["reason"],
        "escalation_expired"
    );
    let listed = hitl_ok(&data, &["list", "--status", "escalated"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("iteration_limit (unresolved)"));
}

#[test]
fn extend_past_fifty_iterations_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = escalated_after(&data, "esc-fifty", 2);
    // 2 + 49 = 51 > 50.
    let out = resolve(&data, &id, &["--extend", "49"]);
    assert!(!out.status.success());
    assert_eq!(
        json_of(&out)["receipt"]["outcome"]["reason"],
        "too_many_iterations"
    );
    // Still waiting: a valid resolution goes through afterwards.
    let ok = resolve(&data, &id, &["--extend", "48"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(json_of(&ok)["max_iterations"], 50);
    assert_eq!(json_of(&ok)["iteration"], 3);
}

/// Two people resolve the same escalation at the same moment (separate processes): exactly
/// one resolution is applied; the other is refused with `already_resolved` and changes
/// nothing.
#[test]
fn concurrent_resolutions_apply_exactly_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = escalated_workflow(&data, "esc-race");
    let outcomes: Vec<Output> = std::thread::scope(|scope| {
        let handles: Vec<_> = [
            vec!["--extend", "2", "--by", "olga"],
            vec!["--abandon", "--reason", "Discontinued", "--by", "omar"],
        ]
        .into_iter()
        .map(|args| {
            let data = &data;
            let id = &id;
            scope.spawn(move || resolve(data, id, &args))
        })
        .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let answers: Vec<Value> = outcomes.iter().map(json_of).collect();
    let applied = answers
        .iter()
        .filter(|a| a["receipt"]["outcome"]["kind"] == "applied")
        .count();
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|a| a["receipt"]["outcome"]["kind"] == "rejected")
        .collect();
    assert_eq!(applied, 1, "{answers:?}");
    assert_eq!(refused.len(), 1, "{answers:?}");
    assert_eq!(
        refused[0]["receipt"]["outcome"]["reason"],
        "already_resolved"
    );
    let s = status(&data, &id);
    let resolutions = s["feedback"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            matches!(f["decision"].as_str(), Some("extend" | "abandon"))
                && f["outcome"] == "applied"
        })
        .count();
    assert_eq!(resolutions, 1, "{s}");
    let (executions, _) = history(&data, &id);
    assert_eq!(executions, 1);
}

/// A reviewer stops the loop outright with a reason: the workflow escalates
/// (`rejected_by_reviewer`) quoting the reason, and the escalation group resolves it.
#[test]
fn a_rejection_escalates_with_the_reviewers_reason() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let started = hitl_ok(
        &data,
        &[
            "--json",
            "start",
            "--request-id",
            "esc-reject",
            "--subject",
            r#"{"id":"b9","name":"Gamma"}"#,
        ],
    );
    let id = json_of(&started)["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A rejection needs its reason.
    let blank = hitl(&data, &["--json", "feedback", &id, "--reject", "  "]);
    assert!(!blank.status.success());
    assert!(String::from_utf8_lossy(&blank.stderr).contains("comments"));
    hitl_ok(
        &data,
        &[
            "feedback",
            &id,
            "--reject",
            "Legal has not cleared the name",
            "--reviewer",
            "rita",
        ],
    );
    let s = status(&data, &id);
    assert_eq!(s["status"], "escalated", "{s}");
    assert_eq!(s["escalation"]["reason"], "rejected_by_reviewer");
    assert!(
        s["escalation"]["detail"]
            .as_str()
            .unwrap()
            .contains("Legal has not cleared the name"),
        "{s}"
    );
    assert!(s["escalation"]["resolve_by"].is_string());
    let out = resolve(&data, &id, &["--abandon", "--reason", "Name withdrawn"]);
    assert!(out.status.success());
    assert_eq!(status(&data, &id)["status"], "abandoned");
    let (_, text) = history(&data, &id);
    assert!(text.contains("RejectedByReviewer"), "{text}");
}
