//! The reviewers' inbox from the command line, as separate `hitl` processes over one data
//! directory on the local engine and the real definition: claims, a two-approval workflow and
//! an edit-and-approve, down to the published envelope.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{hitl, hitl_ok};
use serde_json::Value;

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn status(data: &Path, id: &str) -> Value {
    serde_json::from_slice(&hitl_ok(data, &["--json", "status", id]).stdout).unwrap()
}

fn start(data: &Path, request: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "--json",
        "start",
        "--request-id",
        request,
        "--subject",
        r#"{"id":"brand-7","name":"Acme Coffee","category":"food"}"#,
    ];
    args.extend_from_slice(extra);
    let out = hitl_ok(data, &args);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["workflows"][0]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn invalid_inbox_settings_are_refused_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (request, flag, value, field) in [
        (
            "bad-1",
            "--required-approvals",
            "6",
            "--required-approvals: must be",
        ),
        ("bad-2", "--claim-ttl", "2d", "--claim-ttl: must be"),
    ] {
        let out = hitl(
            &data,
            &[
                "start",
                "--request-id",
                request,
                "--subject",
                r#"{"id":"b","name":"B"}"#,
                flag,
                value,
            ],
        );
        assert!(!out.status.success(), "{flag} {value} accepted");
        assert!(text(&out).contains(field), "{}", text(&out));
    }
}

#[test]
fn claims_and_two_approvals_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = start(
        &data,
        "two-approvals",
        &["--required-approvals", "2", "--claim-ttl", "10m"],
    );
    assert_eq!(status(&data, &id)["status"], "awaiting_review");

    // ana claims; ben's decision is refused and recorded; ben cannot release it.
    let claimed = hitl_ok(&data, &["claim", &id, "--reviewer", "ana"]);
    assert!(
        text(&claimed).contains("ana holds iteration 1"),
        "{}",
        text(&claimed)
    );
    assert_eq!(status(&data, &id)["review"]["claim"]["reviewer"], "ana");
    let refused = hitl(&data, &["feedback", &id, "--approve", "--reviewer", "ben"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("claimed_by_other"),
        "{}",
        text(&refused)
    );
    let not_his = hitl(&data, &["release", &id, "--reviewer", "ben"]);
    assert_eq!(not_his.status.code(), Some(1));
    // The claim lapses after claim_ttl on the virtual clock; ana claims again, approves.
    hitl_ok(&data, &["advance-time", "11m"]);
    assert!(status(&data, &id)["review"].get("claim").is_none());
    hitl_ok(&data, &["claim", &id, "--reviewer", "ana"]);
    let first = hitl_ok(&data, &["feedback", &id, "--approve", "--reviewer", "ana"]);
    assert!(text(&first).contains("approval 1 of 2"), "{}", text(&first));
    let view = status(&data, &id);
    assert_eq!(view["status"], "awaiting_review");
    assert_eq!(view["review"]["approved_by"][0], "ana");
    assert!(
        view["review"].get("claim").is_none(),
        "a decision ends the claim"
    );
    // ana twice counts once; ben's approval completes the quorum and the execution ends.
    let twice = hitl(&data, &["feedback", &id, "--approve", "--reviewer", "ana"]);
    assert!(
        text(&twice).contains("already_approved"),
        "{}",
        text(&twice)
    );
    hitl_ok(&data, &["feedback", &id, "--approve", "--reviewer", "ben"]);
    let done = status(&data, &id);
    assert_eq!(done["status"], "approved");
    let envelope: Value = serde_json::from_slice(&hitl_ok(&data, &["export", &id]).stdout).unwrap();
    assert_eq!(envelope["approved_by"], "ben");
    // Consumers see both approvers: the one who completed the quorum and who came before.
    assert_eq!(envelope["co_approvers"], serde_json::json!(["ana"]));
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            common::workspace().join("docs/schemas/outcome-envelope.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&envelope)
        .map(|e| e.to_string())
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn edit_and_approve_publishes_the_reviewers_version_without_an_agent_round() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = start(&data, "edit", &[]);
    let bad = hitl(
        &data,
        &[
            "feedback",
            &id,
            "--approve",
            "--correction",
            "colors.primary=blue",
        ],
    );
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("--correction colors.primary: "),
        "{}",
        text(&bad)
    );
    assert_eq!(status(&data, &id)["status"], "awaiting_review");
    hitl_ok(
        &data,
        &[
            "feedback",
            &id,
            "--approve",
            "--reviewer",
            "olga",
            "--correction",
            "tagline=Roasted for early risers",
        ],
    );
    let done = status(&data, &id);
    assert_eq!(done["status"], "approved");
    assert_eq!(done["iteration"], 1, "no agent round");
    let envelope: Value = serde_json::from_slice(&hitl_ok(&data, &["export", &id]).stdout).unwrap();
    assert_eq!(envelope["artifact"]["tagline"], "Roasted for early risers");
    assert_eq!(envelope["generator"], "person:olga");
    // The execution went from the review straight to publishing: no regeneration.
    let history = text(&hitl_ok(&data, &["history", &id]));
    assert!(history.contains("WaitForFeedback"), "{history}");
    assert!(!history.contains("MetadataRegeneration"), "{history}");
}

#[test]
fn reminders_fire_before_the_deadline_and_the_log_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // An offset not shorter than the SLA is refused with its index named.
    let bad = hitl(
        &data,
        &[
            "start",
            "--request-id",
            "rem-bad",
            "--subject",
            r#"{"id":"b","name":"B"}"#,
            "--review-timeout",
            "3h",
            "--reminders",
            "1h,3h",
        ],
    );
    assert!(!bad.status.success());
    assert!(text(&bad).contains("--reminders[1]"), "{}", text(&bad));

    let id = start(
        &data,
        "rem",
        &["--review-timeout", "3h", "--reminders", "2h,30m"],
    );
    let advanced = hitl_ok(&data, &["advance-time", "2h"]);
    let out = text(&advanced);
    assert_eq!(out.matches("reminder sent").count(), 1, "{out}");
    assert!(out.contains("2h 0m before the deadline"), "{out}");
    let advanced = hitl_ok(&data, &["--json", "advance-time", "2h"]);
    let v: Value = serde_json::from_slice(&advanced.stdout).unwrap();
    let sent = v["reminders"].as_array().unwrap();
    assert_eq!(sent.len(), 1, "{v}");
    assert_eq!(sent[0]["offset_seconds"], 1800);
    assert_eq!(sent[0]["workflow_id"], id.as_str());
    // The reminder came before the timeout it warned of: the workflow escalated after it.
    assert_eq!(status(&data, &id)["escalation"]["reason"], "review_timeout");
    let log = text(&hitl_ok(&data, &["notifications"]));
    let kinds: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(
        kinds,
        vec![
            "review_requested",
            "review_reminder",
            "review_reminder",
            "escalated"
        ],
        "{log}"
    );
    // The escalation fired at the deadline, 3 h in, an hour before the end of the jump.
    let recent = text(&hitl_ok(&data, &["notifications", "--since", "90m"]));
    assert!(!recent.contains("review_requested"), "{recent}");
    assert!(recent.contains("escalated"), "{recent}");
    // The escalation waits 7 days for a resolution: its group is reminded 2 h and 30 min
    // before it ends unresolved.
    let week = text(&hitl_ok(&data, &["advance-time", "7d"]));
    assert_eq!(
        week.matches("resolution reminder sent").count(),
        2,
        "{week}"
    );
    // The escalation's deadline was 7 days after the review deadline, an hour before the end
    // of this jump: its reminders are 3 h and 1.5 h old.
    let log = text(&hitl_ok(&data, &["notifications", "--since", "4h"]));
    assert_eq!(log.matches("resolution_reminder").count(), 2, "{log}");
}
